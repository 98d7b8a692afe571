// Package hwhash decodes, verifies and builds the Windows Autopilot "4K hardware hash"
// (the OA3 hardware report that Get-WindowsAutopilotInfo and ConfigMgr export as base64).
//
// There is no Microsoft specification. The layout below was reverse-engineered by the
// community (Niehaus AutopilotUtility, its C# port in okieselbach/SyncMLViewer) and is
// summarised in shared/docs/graph-api.md §6:
//
//	off 0  : 'O' 'A'
//	off 2  : u16 LE T = length of header + records (records end at T)
//	off 4… : records: u16 LE type, u16 LE len (includes the 4-byte record header), data
//	off T  : 'C' 'S' 0x24 0x00 trailer
//	off T+4: SHA-256 over bytes [0, T)
//	rest   : zero padding (to 3000 bytes in every real sample)
//
// # Checks
//
// [Parse] strips ASCII whitespace and NULs, adds missing '=' padding (warning
// [CodePadding]) and rejects any other character ([CodeNotBase64], with its offset).
// [ParseBytes] then checks the magic, 4 < T <= len-36, that every record has len >= 4
// and that the records end exactly at T, the trailer, and SHA-256 ([CodeLayout],
// [CodeChecksum]); it warns when the length is not 3000 ([CodeLength]), when non-zero
// bytes follow the checksum ([CodeTrailingData]) and when record 11 does not match the
// EK in record 25 ([CodeEKMismatch]); it fails when record 14 or 16 is absent or empty
// after trimming spaces and NULs ([CodeMissingSerial], [CodeMissingManufacturer]).
// Whether the Autopilot service verifies the checksum itself is not known; a hash that
// fails it was edited or damaged after capture.
//
// A hash cut short inside its zero padding (a spreadsheet or tool that stops at 2048
// characters) still verifies: it is valid with a [CodeLength] warning that says it was
// cut short. Whether the service accepts the short form is unconfirmed, so
// [Hash.Canonical] restores the captured 3000 bytes (and drops zeros appended after
// them); convert and import write that form.
//
// # Records
//
// "Verified" means checked on the six public Get-WindowsAutopilotInfo exports in
// shared/samples-public (HP, Lenovo, VMware and QEMU machines, Windows 10 19041 to
// Windows 11 26200). Other rows follow SyncMLViewer and are not decoded here.
//
//	type  field                         decoded into            status
//	1     ToolBuild, OSBuild, …         Info.OSBuild            verified: 24 data bytes; two versions
//	                                                            as u16 minor, major, revision, build;
//	                                                            4+1 bytes that differ per capture;
//	                                                            OSType (2), arch (9 = x64), ToolVersion
//	2     processor architecture/counts -                       seen
//	3, 4  processor maker / model       -                       seen
//	5, 6  RAM, disk capacity and bus    -                       seen
//	7     disk serial "serial|model|"   Info.DiskSerials        verified; NOT NUL-terminated
//	8     network adapter               Info.MACs               verified: u32 PhysicalMedium (14 Ethernet,
//	                                                            9 802.11, 10 Bluetooth), 6-byte MAC,
//	                                                            u32 byte length, UTF-16 bus ("PCI", "BTH")
//	9, 10 display, chassis/power role   -                       seen
//	11    OfflineDeviceId               Info.OfflineIDType,     verified: u32 0, u8 id type, u8,
//	                                    Info.OfflineID,         u16 32, u16 0, SHA-256. Type 1 (prefix
//	                                    Info.TPMEKDigest        00 00 00 00 01 00 20 00 00 00) is
//	                                                            SHA-256 of record 25 on all 4 samples
//	                                                            that carry 25; type 3 seen on 2 VMs
//	                                                            without a TPM (no 13/25): not an EK
//	12    SMBIOS UUID                   Info.SMBIOSUUID         verified: 16 bytes, bytes_le GUID (the
//	                                                            VMware serial spells the raw bytes)
//	13    TPM version string            Info.TPMVersion         verified, NUL-terminated 8-bit
//	14    SMBIOS system serial          Info.Serial             verified = CSV serial (3 of 3 non-empty;
//	                                                            QEMU hashes hold a placeholder while the
//	                                                            CSV serial column is empty)
//	15    firmware vendor               -                       seen
//	16    SMBIOS system manufacturer    Info.Manufacturer       verified
//	17    SMBIOS product name (model)   Info.Model              verified
//	18    SMBIOS SKU                    Info.SKU                verified
//	19    SMBIOS family                 Info.Family             verified
//	20–23 firmware/board/system strings -                       seen
//	24    ProductKeyID (13 digits)      Info.ProductKeyID       verified on 3 physical machines
//	25    TPM EK modulus (256 bytes)    only via TPMEKDigest    verified; the EK itself is never exposed
//	26    product key part number       -                       seen
//	27    unknown 4 bytes               -                       seen, meaning unknown
//	28    DiskSSNKernel                 -                       seen (copy of 7, NUL-terminated)
//	29    GPU memory                    -                       seen
//	30    GPU name, UTF-16LE            -                       seen, UTF-16 without terminator
//	34,35,37                            Info.UnknownRecords     seen on newer builds, meaning unknown
//
// String records are NUL-terminated 8-bit text in every sample (decoded as UTF-8 when
// valid, else Latin-1). A string record that looks like UTF-16LE is decoded as such,
// but none was seen in records 13–24.
//
// # Privacy
//
// The full hash identifies a machine and its owner: never print it. Use [Fingerprint]
// (12 hex digits of its SHA-256) in logs and reports. Problem messages never contain
// hash data.
//
// # Building hashes
//
// [Device.Encode] builds a minimal valid hash for tests, samples and the Graph emulator,
// in the spirit of Niehaus's New-AutopilotHash. It is not a capture: never register an
// encoded hash with a real tenant.
package hwhash

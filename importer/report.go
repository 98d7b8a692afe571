package importer

import (
	"time"
)

// Device results. Every input row ends in exactly one of them.
const (
	ResultRegistered        = "registered"         // the import completed
	ResultAlreadyRegistered = "already_registered" // already in this tenant (pre-check, or error 806)
	ResultUpdated           = "updated"            // already registered; group tag/user updated (--update-existing)
	ResultRejected          = "rejected"           // the service refused the device (802, 807, 808, unknown codes)
	ResultTimeout           = "timeout"            // still processing when --wait ran out; the next run picks it up
	ResultFailed            = "failed"             // a permanent API error for its chunk, or it could not be submitted
	ResultInvalid           = "invalid"            // offline finding: not sent
	ResultDuplicate         = "duplicate"          // offline finding: not sent
	ResultConflict          = "conflict"           // offline finding: not sent
	// ResultInterrupted: the run stopped (Ctrl-C, authentication failure, journal write
	// failure…) before this device reached a result; the next run resumes it.
	ResultInterrupted = "interrupted"

	// update and remove.
	ResultUnchanged     = "unchanged"      // update: the device already has these values
	ResultNotRegistered = "not_registered" // update: no such device (a failure); remove: already gone (a success)
	ResultRemoved       = "removed"        // remove: deregistered (the service may take minutes to show it)
	ResultRefused       = "refused"        // remove: enrolled in Intune, and --delete-managed not given
	ResultRemove        = "remove"         // dry run: would be deregistered

	// Dry-run plan results.
	ResultNew     = "new"     // would be imported
	ResultUpdate  = "update"  // registered, group tag/user differ (would be updated with --update-existing)
	ResultPending = "pending" // an import record for this serial is still processing
)

// Import error codes (state.deviceErrorCode) the engine treats specially.
const (
	CodeStorageError            = 640
	CodeInvalidHash             = 802
	CodeAlreadyAssigned         = 806
	CodeDuplicated              = 807
	CodeAssignedToAnotherTenant = 808
)

// Hints printed with results.
const (
	HintOtherTenant = "registered to another tenant: the previous owner or the OEM/reseller must deregister it"
	HintInvalidHash = "recapture the hash (Get-WindowsAutopilotInfo) on the device; the hash is invalid or lacks serial/manufacturer"
	HintDuplicated  = "the same hash was submitted more than once in one upload; only one copy is processed"
	HintStorage     = "the service reported a transient storage error several times; run again later"
	// HintStorageOnce goes with a 640 the tool did not retry: the record is another tool's
	// (or a lost journal's) and is not deleted, or deleting the failed record failed.
	HintStorageOnce = "the service reported a transient storage error (640) on an import record this run could not replace; run the same command again later"
	HintTimeout     = "still processing at the deadline; run the same command again later to collect the result"
	// HintNotResubmitted goes with ResultTimeout for a device whose import failed with a
	// transient error (640) at the deadline: its record was deleted and it was not posted again.
	HintNotResubmitted = "the service reported a transient storage error at the deadline and the device was not posted again; run the same command again to import it"
	HintForeign        = "an import record created by another tool or run is still processing for this serial"
	HintTagDiffers     = "registered with a different group tag or user; use --update-existing to update it"
	// HintProfile goes with a device whose deployment profile was not assigned by the
	// end of --wait-profile.
	HintProfile = "no deployment profile assigned yet: check that a profile targets a group with this device (a dynamic group rule on the group tag, e.g. device.devicePhysicalIds -any _ -eq \"[OrderID]:TAG\"), or wait longer: assignment can take from minutes to hours"
	// HintGroupPending goes with a device whose Entra device object did not appear
	// in time to be added to the group.
	HintGroupPending = "the device's Entra object did not appear in time to be added to the group; run the same import again later (nothing is posted twice) or add it in Entra ID"
	// HintProfileFailed goes with a device whose profile assignment failed.
	HintProfileFailed = "the profile assignment failed: check the profile's requirements (a self-deploying profile needs TPM 2.0) and the device's details in Intune"
	// HintInterrupted goes with ResultInterrupted after a cancelled import.
	HintInterrupted = "the run was interrupted; run the same command again: it resumes from the journal and does not post this device twice"
	// HintStopped goes with ResultInterrupted after an import stopped by an error.
	HintStopped = "the run stopped on the error reported at the end; fix it and run the same command again: it resumes from the journal and does not post this device twice"
	// HintInterruptedPlan goes with ResultInterrupted after a stopped dry run.
	HintInterruptedPlan = "the dry run stopped before this device was planned; run it again"
)

// DeviceResult is the outcome of one input row.
type DeviceResult struct {
	File           string
	Line           int
	Serial         string
	Result         string // Result* constants
	ErrorCode      int    // deviceErrorCode, 0 when none
	ErrorName      string // deviceErrorName or an offline finding code
	Message        string // lowercase detail; never a hash
	Hint           string // what the admin can do
	ImportID       string // import record id, when one was created
	RegistrationID string // windowsAutopilotDeviceIdentity id, when known
	ProfileStatus  string // with WaitProfile: deploymentProfileAssignmentStatus when the wait ended
	ProfileName    string // with WaitProfile: the assigned deployment profile
	Group          string // with AddToGroup: added, member (already), or pending (no Entra device by the deadline)
	GroupTag       string
	DuplicateOf    string // "file:line", for duplicate
}

// Success reports whether the result leaves the device registered in the tenant.
func (d DeviceResult) Success() bool {
	switch d.Result {
	case ResultRegistered, ResultAlreadyRegistered, ResultUpdated, ResultUnchanged, ResultRemoved:
		return true
	}
	return false
}

// RunSummary describes a finished (or stopped) run.
type RunSummary struct {
	Rows      int            // input rows
	Counts    map[string]int // results by Result*
	Tenant    string         // as given in Options
	Requests  int            // Graph requests (Service.Stats delta)
	Writes    int
	Throttled int
	// RequestsFinal and WritesFinal count what was sent until the last result (clean-up
	// and sync come after).
	RequestsFinal int
	WritesFinal   int
	Posts         int           // import POSTs sent (chunks, retries included)
	Polls         int           // poll rounds
	Deleted       int           // import records deleted by this run
	DeleteErrors  int           // deletions that failed (left for the next run)
	Updated       int           // registered devices updated (--update-existing)
	Leftover      []string      // import record ids left for the next run (not final or not deleted)
	Sync          string        // "called", "skipped: …", "too soon", "in progress", "failed: …", "" when not attempted
	Final         time.Duration // from the start until every device had its result
	Elapsed       time.Duration // the whole run, clean-up and sync included
	Journal       string        // journal path, when one was used
	BulkFallback  bool          // remove --bulk: the service refused deleteDevices; single DELETEs were used
}

// classify maps a final import record to a result; retry is true for 640 (StorageError),
// which the engine re-imports a bounded number of times.
func classify(rec ImportRecord) (result, hint string, retry bool) {
	if rec.Status == ImportComplete {
		return ResultRegistered, "", false
	}
	name := rec.ErrorName
	switch {
	case rec.ErrorCode == CodeAlreadyAssigned || name == "ZtdDeviceAlreadyAssigned":
		return ResultAlreadyRegistered, "", false
	case rec.ErrorCode == CodeAssignedToAnotherTenant || name == "ZtdDeviceAssignedToOtherTenant" || name == "ZtdDeviceAssignedToAnotherTenant":
		return ResultRejected, HintOtherTenant, false
	case rec.ErrorCode == CodeInvalidHash || name == "InvalidZtdHardwareHash":
		return ResultRejected, HintInvalidHash, false
	case rec.ErrorCode == CodeDuplicated || name == "ZtdDeviceDuplicated":
		return ResultRejected, HintDuplicated, false
	case rec.ErrorCode == CodeStorageError || name == "StorageError":
		return ResultRejected, HintStorage, true
	}
	return ResultRejected, "", false
}

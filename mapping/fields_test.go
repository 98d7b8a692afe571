package mapping

import "testing"

func TestIsPlaceholder(t *testing.T) {
	tests := []struct {
		serial string
		want   bool
	}{
		{"To be filled by O.E.M.", true},
		{"TO BE FILLED BY O.E.M.", true},
		{"Default string", true},
		{"Default  String", true},
		{"System Serial Number", true},
		{"Chassis Serial Number", true},
		{"0", true},
		{"00000000", true},
		{"None", true},
		{"Not Specified", true},
		{"Not Applicable", true},
		{"123456789", true},
		{"OEM", true},
		{"SMBIOS_STRING_INDEX_0", true},
		{"smbios_string_index_3", true},
		{"SMBIOS_STRING_INDEX_", false},
		{"CZC0000001", false},
		{"1000000", false},
		{"0123", false},
		{"VMware-56 4d 2b 1a", false},
		{"PF3ABC12", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isPlaceholder(tt.serial); got != tt.want {
			t.Errorf("isPlaceholder(%q) = %v, want %v", tt.serial, got, tt.want)
		}
	}
}

func TestIsPKID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"3300000012345", true},
		{"330000001234", false},
		{"33000000123456", false},
		{"00330-80000-00000-AA123", false},
		{"330000001234A", false},
		{"３３００００００１２３４５", false}, // full-width digits
	}
	for _, tt := range tests {
		if got := isPKID(tt.id); got != tt.want {
			t.Errorf("isPKID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestCheckUPN(t *testing.T) {
	tests := []struct {
		upn string
		ok  bool
	}{
		{"", true},
		{"ann@contoso.com", true},
		{"ann.smith+it@sub.contoso.co.uk", true},
		{"ann@xn--bcher-kva.example", true},
		{"ann@münchen.de", true},
		{"ann", false},
		{"ann@contoso", false},
		{"@contoso.com", false},
		{"ann@", false},
		{"ann@@contoso.com", false},
		{"ann@contoso..com", false},
		{"ann@.contoso.com", false},
		{"ann@-contoso.com", false},
		{"ann@contoso_x.com", false},
		{"ann smith@contoso.com", false},
		{"ann@contoso.com\t", false},
		{`"ann"@contoso.com`, false},
		{"CONTOSO\\ann", false},
	}
	for _, tt := range tests {
		if got := checkUPN(tt.upn); (got == "") != tt.ok {
			t.Errorf("checkUPN(%q) = %q, want ok=%v", tt.upn, got, tt.ok)
		}
	}
}

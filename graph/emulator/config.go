package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration string
// ("5s", "150ms", "10m"). A bare JSON number is read as seconds.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "5s"-style strings or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (use forms like \"5s\", \"150ms\", \"10m\")", s)
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid duration %s (use a string like \"5s\" or a number of seconds)", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// Faults are the rates (0..1, per request) of injected failures. Draws come from one
// random source seeded with Config.RandomSeed, so a run with the same requests in the
// same order injects the same faults.
type Faults struct {
	Error5xx        float64  `json:"error_5xx"`             // 500, 502 or 504 with a Graph error body
	Error503        float64  `json:"error_503_retry_after"` // 503 ServiceUnavailable with Retry-After
	DropConnection  float64  `json:"drop_connection"`       // connection hijacked and closed, no response
	SlowResponse    float64  `json:"slow_response"`         // the response is delayed by SlowDelay
	SlowDelay       Duration `json:"slow_delay"`            // default 2s
	StorageError    float64  `json:"storage_error"`         // an import item ends in 640 StorageError
	FaultBatchItems bool     `json:"fault_batch_items"`     // also inject 5xx/503 into $batch items
	// DropAfterProcessing drops the connection after the request took effect (the
	// client cannot know whether a write happened) instead of before.
	DropAfterProcessing bool `json:"drop_after_processing"`
	RetryAfterSeconds   int  `json:"retry_after_503"` // Retry-After of injected 503s (default 1)
}

// ClientConfig registers one application (service principal) in the emulated tenant.
type ClientConfig struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Certificate  string   `json:"certificate,omitempty"` // PEM certificate(s) accepted for client assertions
	Roles        []string `json:"roles,omitempty"`       // app roles put in its tokens; default the Config roles
}

// Config configures an emulator. Every key is optional; DefaultConfig lists the defaults
// and doc.go documents each key.
type Config struct {
	Addr         string         `json:"addr"`          // listen address; default 127.0.0.1:0
	Dir          string         `json:"dir"`           // where ca.pem and identity.json live; default a temp dir
	TenantID     string         `json:"tenant_id"`     // default: random GUID (kept in dir/identity.json)
	ClientID     string         `json:"client_id"`     // default: random GUID (kept in dir/identity.json)
	ClientSecret string         `json:"client_secret"` // default: random (kept in dir/identity.json)
	Roles        []string       `json:"roles"`         // roles of the default client; default ReadWrite.All
	Clients      []ClientConfig `json:"clients"`       // more applications

	TokenLifetime Duration `json:"token_lifetime"` // default 1h

	ProcessingDelay Duration `json:"processing_delay"` // unknown -> complete/error after this; default 5s
	InitialStatus   string   `json:"initial_status"`   // status while processing: "unknown" (default), "pending" or "partial"
	// VisibilityDelay hides a new import record from GET {id}, the list and $batch
	// GETs (404 / absent) for this long after it was created; DELETE still finds
	// it. Default 0 (visible at once). ASSUMED mode: nothing documents either way.
	VisibilityDelay Duration `json:"visibility_delay"`

	WriteLimit        int      `json:"write_limit"`         // writes per window per app; default 100
	RequestLimit      int      `json:"request_limit"`       // requests per window per app; default 1000
	ThrottleWindow    Duration `json:"throttle_window"`     // default 20s
	ThrottleMode      string   `json:"throttle_mode"`       // "sliding" (default) or "fixed"
	CountThrottled    *bool    `json:"count_throttled"`     // throttled requests use request budget; default true
	OmitRetryAfter    bool     `json:"omit_retry_after"`    // 429s carry no Retry-After header
	RetryAfterSeconds int      `json:"retry_after_seconds"` // fixed Retry-After for 429; 0 = time until the window frees

	SyncCooldown Duration `json:"sync_cooldown"` // 429 for a sync within this of the last one; default 10m
	SyncDuration Duration `json:"sync_duration"` // 409 while a sync runs; default 30s
	// SyncCooldownRetryAfter adds Retry-After (seconds left) to the 10-minute 429;
	// default false: the service's nested message says "RetryAfter": null. It is
	// independent of omit_retry_after, which applies to throttling 429s.
	SyncCooldownRetryAfter bool `json:"sync_cooldown_retry_after"`
	// SyncThrottled: the first n sync calls are throttled (429 in the gateway's
	// shape, not the 10-minute rule), whatever the cooldown says; default 0.
	SyncThrottled int `json:"sync_throttled"`

	PageSize             int   `json:"page_size"`                 // list page size; default 1000
	MaxImportItems       int   `json:"max_import_items"`          // items per import action; 0 = no limit (default)
	MaxBodyBytes         int   `json:"max_body_bytes"`            // request body limit after gunzip; default 32 MiB
	SelectStatus         int   `json:"select_status"`             // status for $select on the registered list; default 500; -1 = ignore $select
	RejectUnknown        *bool `json:"reject_unknown_properties"` // 400 for unknown body properties; default true
	RejectHyphenContains bool  `json:"reject_hyphen_contains"`    // 400 for contains() with '-' (msgraph-sdk-powershell#2464); default false

	// DeploymentProfiles are the beta deployment profiles; absent (nil) means
	// DefaultProfiles(), an empty list means none.
	DeploymentProfiles []ProfileConfig `json:"deployment_profiles"`
	// ProfileDelay is how long after a profile targets a device its assignment
	// takes: notAssigned for the first half, pending for the second, then
	// assignedUnkownSyncState. Default 30s.
	ProfileDelay Duration `json:"profile_delay"`
	// Organization is what GET /organization returns; nil means DefaultOrganization().
	Organization *OrganizationConfig `json:"organization"`
	// Directory and Intune devices (directory.go, deregister.go).
	DefaultGroups       []string `json:"default_groups"`        // groups created at start if missing; default ["Autopilot Devices"]; [] = none
	EnrolledSerials     []string `json:"enrolled_serials"`      // serials enrolled in Intune: their registered devices get a managedDevice
	DeleteDeviceStatus  int      `json:"delete_device_status"`  // success status of an Autopilot device DELETE: 200 (observed, default) or 204 (documented)
	DeleteDevicesAction *bool    `json:"delete_devices_action"` // serve the bulk deleteDevices action; default true

	Faults     Faults `json:"faults"`
	RandomSeed int64  `json:"random_seed"` // seed of the fault generator; default 1

	Seed      *State `json:"seed"`       // initial state (ignored when state_file exists)
	StateFile string `json:"state_file"` // state persisted here (atomically) and reloaded at start
	LogFile   string `json:"log_file"`   // JSON Lines request log, appended
	LogMemory int    `json:"log_memory"` // entries kept in memory; default 100000, oldest dropped
}

// Role names the emulator understands.
const (
	RoleReadWrite = "DeviceManagementServiceConfig.ReadWrite.All"
	RoleRead      = "DeviceManagementServiceConfig.Read.All"
	// RoleOrganizationRead lets an application read /organization.
	RoleOrganizationRead = "Organization.Read.All"
)

// DefaultConfig returns the configuration used when a key is not set.
func DefaultConfig() Config {
	t := true
	return Config{
		Addr:                "127.0.0.1:0",
		Roles:               []string{RoleReadWrite, RoleOrganizationRead, RoleManagedReadWrite, RoleDeviceReadWrite, RoleGroupMemberWrite},
		ProfileDelay:        Duration(30 * time.Second),
		DefaultGroups:       []string{DefaultGroupName},
		DeleteDeviceStatus:  http.StatusOK,
		DeleteDevicesAction: &t,
		TokenLifetime:       Duration(time.Hour),
		ProcessingDelay:     Duration(5 * time.Second),
		WriteLimit:          100,
		RequestLimit:        1000,
		ThrottleWindow:      Duration(20 * time.Second),
		ThrottleMode:        "sliding",
		CountThrottled:      &t,
		SyncCooldown:        Duration(10 * time.Minute),
		SyncDuration:        Duration(30 * time.Second),
		PageSize:            1000,
		MaxBodyBytes:        32 << 20,
		SelectStatus:        500,
		RejectUnknown:       &t,
		Faults:              Faults{SlowDelay: Duration(2 * time.Second), RetryAfterSeconds: 1},
		RandomSeed:          1,
		LogMemory:           100000,
	}
}

// LoadConfig reads a JSON configuration file over DefaultConfig. Unknown keys are an error.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading emulator config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: invalid emulator config: %w (see the key list in 'go doc github.com/apimport/apimport/graph/emulator')", path, err)
	}
	if err := cfg.validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// withDefaults fills zero values from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Roles) == 0 {
		c.Roles = d.Roles
	}
	orDefault(&c.Addr, d.Addr)
	orDefault(&c.TokenLifetime, d.TokenLifetime)
	orDefault(&c.WriteLimit, d.WriteLimit)
	orDefault(&c.RequestLimit, d.RequestLimit)
	orDefault(&c.ThrottleWindow, d.ThrottleWindow)
	orDefault(&c.ThrottleMode, d.ThrottleMode)
	orDefault(&c.CountThrottled, d.CountThrottled)
	orDefault(&c.SyncCooldown, d.SyncCooldown)
	orDefault(&c.SyncDuration, d.SyncDuration)
	orDefault(&c.PageSize, d.PageSize)
	orDefault(&c.InitialStatus, StatusUnknown)
	orDefault(&c.ProcessingDelay, d.ProcessingDelay)
	orDefault(&c.SelectStatus, d.SelectStatus)
	orDefault(&c.MaxBodyBytes, d.MaxBodyBytes)
	orDefault(&c.RejectUnknown, d.RejectUnknown)
	orDefault(&c.Faults.SlowDelay, d.Faults.SlowDelay)
	orDefault(&c.Faults.RetryAfterSeconds, d.Faults.RetryAfterSeconds)
	orDefault(&c.LogMemory, d.LogMemory)
	orDefault(&c.ProfileDelay, d.ProfileDelay)
	if c.DeploymentProfiles == nil {
		c.DeploymentProfiles = DefaultProfiles()
	}
	if c.Organization == nil {
		o := DefaultOrganization()
		c.Organization = &o
	}
	orDefault(&c.DeleteDeviceStatus, d.DeleteDeviceStatus)
	orDefault(&c.DeleteDevicesAction, d.DeleteDevicesAction)
	if c.DefaultGroups == nil {
		c.DefaultGroups = d.DefaultGroups
	}
	return c
}

// orDefault sets *v to def when *v is its type's zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (c Config) validate() error {
	switch c.InitialStatus {
	case "", StatusUnknown, StatusPending, StatusPartial:
	default:
		return fmt.Errorf("initial_status %q: use \"unknown\", \"pending\" or \"partial\"", c.InitialStatus)
	}
	if c.DeleteDeviceStatus != 0 && c.DeleteDeviceStatus != http.StatusOK && c.DeleteDeviceStatus != http.StatusNoContent {
		return fmt.Errorf("delete_device_status %d: use 200 or 204", c.DeleteDeviceStatus)
	}
	if c.ThrottleMode != "" && c.ThrottleMode != "sliding" && c.ThrottleMode != "fixed" {
		return fmt.Errorf("throttle_mode %q: use \"sliding\" or \"fixed\"", c.ThrottleMode)
	}
	rates := map[string]float64{"error_5xx": c.Faults.Error5xx, "error_503_retry_after": c.Faults.Error503,
		"drop_connection": c.Faults.DropConnection, "slow_response": c.Faults.SlowResponse, "storage_error": c.Faults.StorageError}
	for k, v := range rates {
		if v < 0 || v > 1 {
			return fmt.Errorf("faults.%s = %v: a rate must be between 0 and 1", k, v)
		}
	}
	if c.WriteLimit < 0 || c.RequestLimit < 0 || c.PageSize < 0 || c.MaxImportItems < 0 || c.SyncThrottled < 0 {
		return fmt.Errorf("write_limit, request_limit, page_size, max_import_items and sync_throttled must not be negative")
	}
	if c.ProcessingDelay < 0 || c.TokenLifetime < 0 || c.ThrottleWindow < 0 || c.VisibilityDelay < 0 || c.ProfileDelay < 0 {
		return fmt.Errorf("processing_delay, token_lifetime, throttle_window, visibility_delay and profile_delay must not be negative")
	}
	if _, err := setupProfiles(c.DeploymentProfiles, time.Time{}); err != nil {
		return err
	}
	return nil
}

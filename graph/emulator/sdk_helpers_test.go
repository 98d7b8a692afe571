package emulator_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	graphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
)

var registerOnce sync.Once

// registerSerializers does what the root msgraphsdk package would (go-libraries.md §2, variant B).
func registerSerializers() {
	registerOnce.Do(func() {
		abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return jsonser.NewJsonSerializationWriterFactory() })
		abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return textser.NewTextSerializationWriterFactory() })
		abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return jsonser.NewJsonParseNodeFactory() })
		abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return textser.NewTextParseNodeFactory() })
	})
}

// testConfig is DefaultConfig with test-friendly timings.
func testConfig() emulator.Config {
	cfg := emulator.DefaultConfig()
	cfg.ProcessingDelay = emulator.Duration(20 * time.Millisecond)
	return cfg
}

func startEmu(t testing.TB, mutate func(*emulator.Config)) *emulator.Server {
	t.Helper()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := emulator.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// secretCred is the real azidentity ClientSecretCredential pointed at the emulator.
func secretCred(t testing.TB, srv *emulator.Server, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(srv.TenantID, srv.ClientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.AuthorityURL},
			Transport: srv.HTTPClient(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("NewClientSecretCredential: %v", err)
	}
	return cred
}

// staticCred hands out a fixed token (for role and expiry tests).
type staticCred struct{ token string }

func (c staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type clientOpts struct {
	retry    *khttp.RetryHandlerOptions // nil: no retries
	compress bool
}

// sdk is an msgraph-sdk-go client (variant B: devicemanagement + models + core adapter).
type sdk struct {
	adapter *core.GraphRequestAdapterBase
	dm      *devicemanagement.DeviceManagementRequestBuilder
}

func newSDK(t testing.TB, srv *emulator.Server, cred azcore.TokenCredential, o clientOpts) sdk {
	t.Helper()
	registerSerializers()
	auth, err := graphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred,
		[]string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	retry := o.retry
	if retry == nil {
		retry = &khttp.RetryHandlerOptions{MaxRetries: 0, ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false }}
	}
	opts := core.GraphClientOptions{GraphServiceLibraryVersion: "1.89.0"}
	kmw, err := khttp.GetDefaultMiddlewaresWithOptions(retry, khttp.NewCompressionOptionsReference(o.compress))
	if err != nil {
		t.Fatal(err)
	}
	mw := append([]khttp.Middleware{core.NewGraphTelemetryHandler(&opts), khttp.NewUrlReplaceHandler(true, core.ReplacementPairs)}, kmw...)
	hc := &http.Client{Timeout: 60 * time.Second, Transport: khttp.NewCustomTransportWithParentTransport(srv.HTTPClient().Transport, mw...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, opts, nil, nil, hc)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(srv.GraphURL + "/v1.0")
	return sdk{adapter: adapter, dm: devicemanagement.NewDeviceManagementRequestBuilderInternal(map[string]string{}, adapter)}
}

// defaultSDK uses the real ClientSecretCredential and gzip compression (the SDK default).
func defaultSDK(t testing.TB, srv *emulator.Server) sdk {
	return newSDK(t, srv, secretCred(t, srv, srv.ClientSecret), clientOpts{compress: true})
}

// machine builds a valid hash for a test machine; capture varies the bytes.
func machine(serial, manufacturer string, capture uint64) []byte {
	var uuid [16]byte
	_, _ = rand.Read(uuid[:])
	return hwhash.Device{Serial: serial, Manufacturer: manufacturer, Model: "Model " + serial, UUID: uuid,
		CaptureTime: capture, DiskSerials: []string{"D" + serial}}.Encode()
}

func newImported(serial string, hw []byte, tag, upn string) models.ImportedWindowsAutopilotDeviceIdentityable {
	m := models.NewImportedWindowsAutopilotDeviceIdentity()
	m.SetSerialNumber(&serial)
	m.SetHardwareIdentifier(hw)
	m.SetGroupTag(&tag)
	m.SetAssignedUserPrincipalName(&upn)
	empty := ""
	m.SetProductKey(&empty)
	st := models.NewImportedWindowsAutopilotDeviceIdentityState()
	pending := models.PENDING_IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITYIMPORTSTATUS
	st.SetDeviceImportStatus(&pending)
	m.SetState(st)
	return m
}

// waitFinal polls one import record by id until it is complete or error.
func waitFinal(t testing.TB, c sdk, id string) models.ImportedWindowsAutopilotDeviceIdentityable {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(id).Get(context.Background(), nil)
		if err != nil {
			t.Fatalf("get %s: %v", id, describe(err))
		}
		st := got.GetState().GetDeviceImportStatus()
		if st != nil && (*st == models.COMPLETE_IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITYIMPORTSTATUS || *st == models.ERROR_IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITYIMPORTSTATUS) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("record %s still %v", id, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// odata unwraps an ODataError (nil-safe, see go-libraries.md §1.3).
func odata(t testing.TB, err error) (status int, code, message string) {
	t.Helper()
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T) is not an ODataError", err, err)
	}
	if e := oe.GetErrorEscaped(); e != nil {
		if c := e.GetCode(); c != nil {
			code = *c
		}
		if m := e.GetMessage(); m != nil {
			message = *m
		}
	}
	return oe.ResponseStatusCode, code, message
}

func describe(err error) string {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe.GetErrorEscaped() != nil {
		e := oe.GetErrorEscaped()
		return fmt.Sprintf("status %d code %v message %v", oe.ResponseStatusCode, deref(e.GetCode()), deref(e.GetMessage()))
	}
	return err.Error()
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// intuneMessage parses the Intune JSON document nested in error.message (graph-api.md §1.6).
func intuneMessage(t testing.TB, msg string) map[string]any {
	t.Helper()
	if !strings.HasPrefix(msg, "{") {
		t.Fatalf("message is not a nested Intune document: %q", msg)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(msg), &m); err != nil {
		t.Fatalf("nested Intune document does not parse: %v", err)
	}
	if m["_version"] != float64(3) || m["Message"] == nil {
		t.Fatalf("nested Intune document lacks _version/Message: %v", m)
	}
	return m
}

package importer

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apimport/apimport/internal/clock"
	"github.com/apimport/apimport/internal/serial"
)

// fakeService is a small, honest in-memory Graph: import records are created by Import,
// become final after delay, and register their device on completion (806 when it
// already is). Hooks inject failures per call.
type fakeService struct {
	mu      sync.Mutex
	clk     *clock.Fake
	delay   time.Duration
	nextID  int
	imports map[string]*fakeRecord
	devices map[string]AutopilotDevice // serial key -> device
	// outcome per serial key: error code to finish with (0 = complete); a slice is consumed
	// one per import of that serial.
	outcome map[string][]int
	posted  []string // serials in POST order (every Import call, created or not)
	created []string // serials of the records created
	stats   Stats
	sync    SyncInfo
	syncErr error
	syncs   int
	// hooks: return a non-nil error to fail the call. importHook runs before (created=false)
	// and after creating the records (created=true).
	importHook func(items []ImportItem, created bool) error
	listHook   func() error
	getHook    func() error
	deleteHook func(id string) error
	updates    map[string]DeviceUpdate
	// hidden: a new record is missing from reads (GET, batch, listing) for this long
	// after its creation (nothing documents that a new record shows at once).
	hidden time.Duration
	// deleteCost is the fake time one deletion takes (the write limit).
	deleteCost time.Duration
	// Intune managed devices by serial key; what remove deleted.
	managed        map[string]ManagedDevice
	deletedDevices []string
	deletedManaged []string
	unassigned     []string
	// profiles: a registered device gets "Default profile" this long after its
	// registration (never with noProfile); registeredAt by registration id.
	profileAfter time.Duration
	noProfile    bool
	registeredAt map[string]time.Time
	// Entra: a registered device's Entra object appears entraAfter after registration;
	// group members by group id.
	entraAfter time.Duration
	members    map[string]map[string]bool
	fakeIdentities
	// bulk deleteDevices: refused with 400 when noBulk
	noBulk    bool
	bulkCalls int
}

// visible reports whether reads show r now.
func (f *fakeService) visible(r *fakeRecord) bool {
	return f.hidden == 0 || f.clk.Now().Sub(r.created) >= f.hidden
}

type fakeRecord struct {
	rec     ImportRecord
	created time.Time
	code    int
}

var errorNames = map[int]string{640: "StorageError", 802: "InvalidZtdHardwareHash", 806: "ZtdDeviceAlreadyAssigned",
	807: "ZtdDeviceDuplicated", 808: "ZtdDeviceAssignedToOtherTenant", 999: "SomethingNew"}

func newFake(delay time.Duration) *fakeService {
	return &fakeService{clk: clock.NewFake(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)), delay: delay, imports: map[string]*fakeRecord{}, devices: map[string]AutopilotDevice{},
		outcome: map[string][]int{}, updates: map[string]DeviceUpdate{}, managed: map[string]ManagedDevice{}, registeredAt: map[string]time.Time{}}
}

func (f *fakeService) count(write bool) {
	f.stats.Requests++
	if write {
		f.stats.Writes++
	}
}

// advance moves records whose delay has passed to their final state.
func (f *fakeService) advance() {
	now := f.clk.Now()
	for _, r := range f.imports {
		if r.rec.Final() || now.Sub(r.created) < f.delay {
			continue
		}
		k := serial.Key(r.rec.Serial)
		code := r.code
		if code == 0 {
			if _, reg := f.devices[k]; reg {
				code = 806
			}
		}
		if code == 0 {
			r.rec.Status = ImportComplete
			r.rec.RegistrationID = "dev-" + r.rec.ID
			f.registeredAt[r.rec.RegistrationID] = r.created.Add(f.delay)
			f.devices[k] = AutopilotDevice{ID: r.rec.RegistrationID, Serial: r.rec.Serial, GroupTag: r.rec.GroupTag, UserPrincipalName: r.rec.AssignedUser,
				EntraDeviceID: "entra-" + r.rec.RegistrationID}
			continue
		}
		r.rec.Status = ImportError
		r.rec.ErrorCode = code
		r.rec.ErrorName = errorNames[code]
	}
}

func (f *fakeService) Import(ctx context.Context, items []ImportItem) ([]ImportRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	for _, it := range items {
		f.posted = append(f.posted, it.Serial)
	}
	if f.importHook != nil {
		if err := f.importHook(items, false); err != nil {
			return nil, err
		}
	}
	out := make([]ImportRecord, len(items))
	for i, it := range items {
		f.nextID++
		id := fmt.Sprintf("imp-%05d", f.nextID)
		k := serial.Key(it.Serial)
		code := 0
		if o := f.outcome[k]; len(o) > 0 {
			code = o[0]
			f.outcome[k] = o[1:]
		}
		r := &fakeRecord{rec: ImportRecord{ID: id, Serial: it.Serial, GroupTag: it.GroupTag, AssignedUser: it.AssignedUser, Status: ImportUnknown}, created: f.clk.Now(), code: code}
		f.imports[id] = r
		f.created = append(f.created, it.Serial)
		out[i] = r.rec
	}
	if f.importHook != nil {
		if err := f.importHook(items, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (f *fakeService) GetImported(ctx context.Context, id string) (ImportRecord, error) {
	m, err := f.GetImportedMany(ctx, []string{id})
	if err != nil {
		return ImportRecord{}, err
	}
	r, ok := m[id]
	if !ok {
		return ImportRecord{}, ErrNotFound
	}
	return r, nil
}

func (f *fakeService) GetImportedMany(ctx context.Context, ids []string) (map[string]ImportRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Requests += len(ids)
	if f.getHook != nil {
		if err := f.getHook(); err != nil {
			return nil, err
		}
	}
	f.advance()
	out := map[string]ImportRecord{}
	for _, id := range ids {
		if r, ok := f.imports[id]; ok && f.visible(r) {
			out[id] = r.rec
		}
	}
	return out, nil
}

const fakePage = 100

func (f *fakeService) ListImported(ctx context.Context, fn func(ImportRecord) bool) error {
	f.mu.Lock()
	if f.listHook != nil {
		if err := f.listHook(); err != nil {
			f.mu.Unlock()
			return err
		}
	}
	f.advance()
	recs := make([]ImportRecord, 0, len(f.imports))
	for _, r := range f.imports {
		if f.visible(r) {
			recs = append(recs, r.rec)
		}
	}
	f.stats.Requests += 1 + len(recs)/fakePage
	f.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	for _, r := range recs {
		if !fn(r) {
			break
		}
	}
	return nil
}

func (f *fakeService) DeleteImported(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	if f.deleteHook != nil {
		if err := f.deleteHook(id); err != nil {
			return err
		}
	}
	delete(f.imports, id)
	f.clk.Advance(f.deleteCost)
	return nil
}

func (f *fakeService) ListDevices(ctx context.Context, fn func(AutopilotDevice) bool) error {
	f.mu.Lock()
	f.advance()
	devs := make([]AutopilotDevice, 0, len(f.devices))
	for _, d := range f.devices {
		devs = append(devs, d)
	}
	f.stats.Requests += 1 + len(devs)/fakePage
	f.mu.Unlock()
	for _, d := range devs {
		if !fn(d) {
			break
		}
	}
	return nil
}

func (f *fakeService) FindDevices(ctx context.Context, sn string) ([]AutopilotDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(false)
	f.advance()
	if d, ok := f.devices[serial.Key(sn)]; ok {
		return []AutopilotDevice{d}, nil
	}
	return nil, nil
}

func (f *fakeService) UpdateDevice(ctx context.Context, id string, u DeviceUpdate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	for k, d := range f.devices {
		if d.ID == id {
			if u.GroupTag != nil {
				d.GroupTag = *u.GroupTag
			}
			if u.UserPrincipalName != nil {
				d.UserPrincipalName = *u.UserPrincipalName
			}
			if u.DisplayName != nil {
				d.DisplayName = *u.DisplayName
			}
			f.devices[k] = d
			f.updates[id] = u
			return nil
		}
	}
	return &APIError{StatusCode: 404, Code: "NotFound", Message: "no such device"}
}

func (f *fakeService) GetSyncInfo(ctx context.Context) (SyncInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(false)
	return f.sync, nil
}

func (f *fakeService) Sync(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	f.syncs++
	if f.syncErr != nil {
		return f.syncErr
	}
	f.sync.LastSync = f.clk.Now()
	return nil
}

func (f *fakeService) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// postCounts returns how many times each serial was posted.
func (f *fakeService) postCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int{}
	for _, s := range f.posted {
		m[strings.ToUpper(s)]++
	}
	return m
}

func (f *fakeService) remaining() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.imports)
}

// createdCounts returns how many import records were created per serial.
func (f *fakeService) createdCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int{}
	for _, s := range f.created {
		m[strings.ToUpper(s)]++
	}
	return m
}

func (f *fakeService) DeleteDevice(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	f.deletedDevices = append(f.deletedDevices, id)
	for k, d := range f.devices {
		if d.ID == id {
			delete(f.devices, k)
			return nil
		}
	}
	return ErrNotFound
}

func (f *fakeService) UnassignUser(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	for k, d := range f.devices {
		if d.ID == id {
			d.UserPrincipalName = ""
			f.devices[k] = d
			f.unassigned = append(f.unassigned, id)
			return nil
		}
	}
	return ErrNotFound
}

func (f *fakeService) FindManagedDevices(ctx context.Context, sn string) ([]ManagedDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(false)
	if m, ok := f.managed[serial.Key(sn)]; ok {
		return []ManagedDevice{m}, nil
	}
	return nil, nil
}

func (f *fakeService) DeleteManagedDevice(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	for k, m := range f.managed {
		if m.ID == id {
			delete(f.managed, k)
			f.deletedManaged = append(f.deletedManaged, id)
			return nil
		}
	}
	return ErrNotFound
}

func (f *fakeService) DeviceProfiles(ctx context.Context, ids []string) (map[string]AutopilotDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Requests += len(ids)
	f.advance()
	out := map[string]AutopilotDevice{}
	for _, d := range f.devices {
		for _, id := range ids {
			if d.ID != id {
				continue
			}
			d.ProfileStatus = "notAssigned"
			if at := f.registeredAt[id]; !f.noProfile && f.clk.Now().Sub(at) >= f.profileAfter {
				d.ProfileStatus, d.ProfileName = "assignedUnkownSyncState", "Default profile"
			}
			out[id] = d
		}
	}
	return out, nil
}

func (f *fakeService) EntraDeviceObject(ctx context.Context, deviceID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(false)
	reg := strings.TrimPrefix(deviceID, "entra-")
	if at, ok := f.registeredAt[reg]; ok && f.clk.Now().Sub(at) < f.entraAfter {
		return "", ErrNotFound
	}
	return "obj-" + deviceID, nil
}

func (f *fakeService) AddGroupMember(ctx context.Context, groupID, objectID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	if f.members == nil {
		f.members = map[string]map[string]bool{}
	}
	if f.members[groupID] == nil {
		f.members[groupID] = map[string]bool{}
	}
	if f.members[groupID][objectID] {
		return false, nil
	}
	f.members[groupID][objectID] = true
	return true, nil
}

// fakeIdentities is the fake's importedDeviceIdentities store: identities by
// IdentityKey; refuse makes importDeviceIdentityList answer status false for a key;
// identityHook fails a call (before anything is stored when created is false).
type fakeIdentities struct {
	identities   map[string]DeviceIdentity
	refuse       map[string]bool
	identityHook func(ids []string, created bool) error
	searches     int
	identPosts   [][]string
}

func (f *fakeService) SearchExistingIdentities(ctx context.Context, ids []string) ([]DeviceIdentity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(false)
	f.searches++
	var out []DeviceIdentity
	for _, id := range ids {
		if g, ok := f.identities[IdentityKey(id)]; ok {
			out = append(out, g)
		}
	}
	return out, nil
}

func (f *fakeService) ImportDeviceIdentityList(ctx context.Context, ids []string, overwrite bool) ([]DeviceIdentity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	f.identPosts = append(f.identPosts, append([]string(nil), ids...))
	if f.identityHook != nil {
		if err := f.identityHook(ids, false); err != nil {
			return nil, err
		}
	}
	if f.identities == nil {
		f.identities = map[string]DeviceIdentity{}
	}
	var out []DeviceIdentity
	for _, id := range ids {
		k := IdentityKey(id)
		if f.refuse[k] {
			out = append(out, DeviceIdentity{Identifier: id, Type: "manufacturerModelSerial", Status: false})
			continue
		}
		f.nextID++
		g := DeviceIdentity{ID: fmt.Sprintf("idi-%d", f.nextID), Identifier: id, Type: "manufacturerModelSerial", EnrollmentState: "notContacted", Status: true}
		f.identities[k] = g
		out = append(out, g)
	}
	if f.identityHook != nil {
		if err := f.identityHook(ids, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (f *fakeService) DeleteDevicesBulk(ctx context.Context, serials []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count(true)
	f.bulkCalls++
	if f.noBulk {
		return nil, &APIError{StatusCode: 400, Code: "BadRequest", Message: "Resource not found for the segment 'deleteDevices'."}
	}
	out := map[string]string{}
	for _, sn := range serials {
		k := serial.Key(sn)
		if d, ok := f.devices[k]; ok {
			f.deletedDevices = append(f.deletedDevices, d.ID)
			delete(f.devices, k)
			out[sn] = "accepted"
		} else {
			out[sn] = "failed"
		}
	}
	return out, nil
}

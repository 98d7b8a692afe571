// Package emulator is a local stand-in for the parts of Microsoft Graph and Microsoft
// Entra ID that apimport uses: the Autopilot import endpoints, the registered-device
// endpoints, beta Autopilot sync, JSON batching, throttling, and an OAuth 2.0 token
// endpoint good enough for the real azidentity ClientSecretCredential and
// ClientCertificateCredential. It serves HTTPS only (HTTP/1.1), with a generated CA whose
// PEM is written to Server.CAFile.
//
// It follows the contract in shared/docs/graph-api.md (§ numbers below), not what any
// client sends. Each behaviour is marked DOCUMENTED (a source in graph-api.md or
// go-libraries.md says so) or ASSUMED (our choice where the sources are silent; every
// assumed behaviour is configurable or harmless).
//
// # Starting
//
//	cfg := emulator.DefaultConfig()
//	cfg.ProcessingDelay = emulator.Duration(50 * time.Millisecond)
//	srv, err := emulator.Start(cfg)
//	defer srv.Close()
//	// Graph base: srv.GraphURL + "/v1.0"; authority: srv.AuthorityURL; trust srv.CAFile
//
// azidentity needs ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost:
// srv.AuthorityURL}, Transport: srv.HTTPClient()} and DisableInstanceDiscovery: true; the
// kiota auth provider needs validHosts {"127.0.0.1", "localhost"}.
//
// # Endpoints (under /v1.0 and /beta)
//
//   - POST /deviceManagement/importedWindowsAutopilotDeviceIdentities → 201 + entity (§1.2, DOCUMENTED).
//   - POST …/importedWindowsAutopilotDeviceIdentities/import with
//     {"importedWindowsAutopilotDeviceIdentities":[…]} → 200 {"value":[…]} in item order (§1.2, DOCUMENTED).
//     No item limit by default (§1.2 "no maximum documented"); max_import_items sets one (ASSUMED 400).
//     One malformed item (bad Edm.Binary, unknown property) fails the whole call with 400
//     and creates nothing (ASSUMED: OData deserializes the whole payload first, §8 open question).
//   - GET …/importedWindowsAutopilotDeviceIdentities (paged), GET {id}, DELETE {id} → 204 (§1.2, DOCUMENTED).
//     contains(serialNumber,'…') also works on this list (§1.2, UNCONFIRMED upstream; supported here).
//   - GET /deviceManagement/windowsAutopilotDeviceIdentities (paged), GET {id}, DELETE {id} (see
//     Deregistration),
//     POST {id}/updateDeviceProperties (userPrincipalName, addressableUserName, groupTag,
//     displayName; all optional) → 204, POST {id}/assignUserToDevice (userPrincipalName,
//     addressableUserName) and {id}/unassignUserFromDevice → 204 (§1.3, DOCUMENTED).
//   - GET /beta/deviceManagement/windowsAutopilotSettings and POST …/windowsAutopilotSettings/sync
//     (§1.4, DOCUMENTED beta only; on /v1.0 the segment is a 400 "Resource not found for the
//     segment 'windowsAutopilotSettings'", ASSUMED Graph's usual unknown-segment answer).
//   - GET /beta/deviceManagement/windowsAutopilotDeploymentProfiles (paged), GET {id},
//     GET {id}/assignments, GET {id}/assignments/{assignmentId}, and GET /organization
//     (v1.0 and beta); see "Deployment profiles and the organization".
//   - beta /deviceManagement/importedDeviceIdentities: list, GET/DELETE {id},
//     importDeviceIdentityList, searchExistingIdentities (lifecycle-api.md §5; see Corporate identifiers).
//   - POST /$batch (§3, DOCUMENTED; see Batching).
//   - Entra devices, groups, Intune managed devices and deregistration: see the sections below
//     (lifecycle-api.md §4, §6, §7).
//   - GET /{tenant}/v2.0/.well-known/openid-configuration and POST /{tenant}/oauth2/v2.0/token
//     (go-libraries.md §3.5, DOCUMENTED for MSAL's offline flow).
//
// Path segments are matched case-insensitively (Graph does; Niehaus's module sends
// UpdateDeviceProperties). Keys may be given as {id} or ('{id}'). Actions may be
// namespace-qualified (microsoft.graph.import). Unknown segments → 400 BadRequest
// "Resource not found for the segment '…'" (ASSUMED); a known path with the wrong method →
// 405 (ASSUMED).
//
// # Request bodies
//
//   - Content-Encoding: gzip bodies are decompressed (go-libraries.md §1.4, DOCUMENTED: the Go
//     SDK's CompressionHandler gzips every body). Other encodings → 415.
//   - Only id, groupTag, serialNumber, productKey, importId, hardwareIdentifier,
//     assignedUserPrincipalName and state are properties of the entity (§1.1 CSDL, DOCUMENTED);
//     state, id and instance annotations (@odata.type, …) are accepted and ignored.
//     An unknown property (e.g. the deprecated orderIdentifier) → 400 "The property '…' does
//     not exist on type …" as OData does (ASSUMED; reject_unknown_properties=false ignores them).
//   - hardwareIdentifier is Edm.Binary (§1.1/§1.2, DOCUMENTED): standard base64 with padding
//     (white space ignored, like .NET Convert.FromBase64String). A bad literal → 400
//     "Cannot convert the literal '<first 16 chars>...' to the expected type 'Edm.Binary'."
//     (DOCUMENTED by windows-itpro-docs#6150 via peers.md; the truncation is ours: the full hash is never echoed
//     or logged).
//   - A string property given a non-string → 400 "Cannot convert a primitive value …" (ASSUMED).
//
// # Asynchronous processing (§1.1, §2)
//
// A new record reports state.deviceImportStatus "unknown" (DOCUMENTED as observed;
// initial_status "pending" or "partial" tests clients that must also treat those as
// unfinished, §1.1) until processing_delay has passed (ASSUMED length; the real service takes minutes), then
// "complete" or "error". Verdicts are decided lazily, in creation order, on the first
// request (or inspection call) after they are due, so there is no ticker and the cost is
// proportional to the records decided. Rules, in order:
//
//  1. 807 ZtdDeviceDuplicated: the same hash bytes twice in one import action; the first is
//     processed, the others get 807 (§2 DOCUMENTED meaning; code 807 UNCONFIRMED upstream).
//     Separate POSTs are separate uploads (ASSUMED).
//  2. 640 StorageError at rate faults.storage_error (§2 DOCUMENTED as transient; rate ASSUMED).
//  3. 802 InvalidZtdHardwareHash: hwhash.ParseBytes(raw).Valid() is false, or the hash lacks the
//     SMBIOS serial or manufacturer (§2, §6.4 DOCUMENTED; whether the service checks the SHA-256
//     trailer is UNCONFIRMED, we do because hwhash does).
//  4. 808 ZtdDeviceAssignedToOtherTenant: the serial in the hash, or serialNumber, is in
//     seed.other_tenant_serials (§2 DOCUMENTED meaning; the match rule is ASSUMED). The name is
//     "ZtdDeviceAssignedToOtherTenant" (the spelling real responses use).
//  5. 806 ZtdDeviceAlreadyAssigned: a registered device has the hash's serial (or the
//     request's serialNumber), compared trimmed and case-insensitively, and the same
//     manufacturer (or no manufacturer recorded) (§2 DOCUMENTED meaning; match rule ASSUMED).
//  6. Otherwise "complete", deviceErrorCode 0, and a windowsAutopilotDeviceIdentity is created
//     with serial, manufacturer, model, SKU and family from the hash, groupTag (also as
//     purchaseOrderIdentifier), userPrincipalName = assignedUserPrincipalName, enrollmentState
//     notContacted; deviceRegistrationId = its id (§1.1, UNCONFIRMED upstream but relied on by
//     Get-WindowsAutopilotInfo; we make it true).
//
// Records are never expired by the emulator (§2 "UNCONFIRMED"); clients delete them.
//
// Late visibility (ASSUMED mode, off by default; issue 8 item 3): with
// visibility_delay set, a new import record is absent from GET {id} (404
// ResourceNotFound), from the list (with or without contains()) and from $batch GETs
// until visibility_delay after its creation, as an eventually consistent store would
// behave; the POST/import answer still returns it, DELETE finds it, and its verdict
// is decided on schedule. Nothing documents whether Graph shows a fresh record at
// once, so a client must not conclude from a miss that a record is gone.
// Responses carry "hardwareIdentifier": null on every route (create, import, GET, list,
// $batch): the service does not echo the hash (ASSUMED: issue 10 reports the real
// service returns it empty; no source in graph-api.md; null rather than "" is our
// choice). The emulator keeps the hash to judge it.
//
// # Listing, $filter, $select
//
//   - Pages of page_size items (default 1000, ASSUMED from "≈1000" in §1.3) with an absolute
//     @odata.nextLink carrying an opaque $skiptoken; $top below the page size shrinks pages
//     (ASSUMED). Deletions between pages neither skip nor repeat items.
//   - $filter=contains(serialNumber,'X'): case-insensitive substring match (§1.3 DOCUMENTED;
//     case-insensitivity ASSUMED). serialNumber eq 'X' → 400 with an Intune message (§1.3
//     DOCUMENTED). Any other filter → 400 (ASSUMED). reject_hyphen_contains=true reproduces
//     the 400 for serials with '-' (msgraph-sdk-powershell#2464; off by default, ASSUMED fixed).
//   - $select on windowsAutopilotDeviceIdentities → 500 (§1.3 DOCUMENTED by docs-contrib#2756;
//     select_status sets the status, -1 ignores $select). Elsewhere $select is ignored (ASSUMED).
//
// # Sync (§1.4, beta only)
//
// POST sync → 204 and syncStatus inProgress for sync_duration (ASSUMED 30s), then
// completed with lastSyncDateTime = trigger + sync_duration. While in progress → 409
// (DOCUMENTED). Within sync_cooldown (10m, DOCUMENTED) of the last manual trigger → 429
// with an Intune error whose nested document says "RetryAfter": null and no
// Retry-After header (DOCUMENTED by peers.md, andrew-s-taylor/WindowsAutopilotInfo#29;
// the absent header is ASSUMED from it). sync_cooldown_retry_after adds Retry-After =
// seconds left, independently of omit_retry_after (which is for throttling 429s only).
// The cooldown counts from lastManualSyncTriggerDateTime only (ASSUMED).
// sync_throttled=n (or Server.SetSyncThrottled) answers the next n sync calls with a
// throttling 429 instead — the gateway's plain "Please retry again later." with
// Retry-After as for any throttled request, lastManualSyncTriggerDateTime unchanged —
// so a client must tell throttling from the 10-minute rule by reading the settings
// (ASSUMED: the docs name only the 10-minute 429; issue 8 item 9 saw throttled syncs).
//
// # Deployment profiles and the organization (lifecycle-api.md §1–3, §7)
//
//   - windowsAutopilotDeploymentProfiles exists only in beta; on /v1.0 the segment is a 400
//     "Resource not found for the segment" (DOCUMENTED that v1.0 has no such navigation,
//     §1.1; the answer ASSUMED as for other unknown segments). Profiles are configured
//     (deployment_profiles), not created: POST/PATCH/DELETE answer 405 (ASSUMED: writes not
//     emulated). An unknown id → 404 ResourceNotFound (ASSUMED like other Intune entities).
//   - Both concrete types: kind "entra" → #microsoft.graph.azureADWindowsAutopilotDeploymentProfile,
//     "hybrid" → #microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile with
//     hybridAzureADJoinSkipConnectivityCheck; self-deploying = deviceUsageType "shared"
//     (§1.1 DOCUMENTED). Properties as §1.3 lists them: by default both the new names
//     (locale, outOfBoxExperienceSetting{privacySettingsHidden, eulaHidden, userType,
//     deviceUsageType, keyboardSelectionPageSkipped, escapeLinkHidden},
//     hardwareHashExtractionEnabled, preprovisioningAllowed) and the deprecated ones (language,
//     outOfBoxExperienceSettings{hidePrivacySettings, hideEULA, userType, deviceUsageType,
//     skipKeyboardSelectionPage, hideEscapeLink}, extractHardwareHash, enableWhiteGlove)
//     (DOCUMENTED for beta; whether the service still fills the deprecated ones is
//     UNCONFIRMED, §9 q5: property_names "new" serves them as null, "old" serves only them).
//     enrollmentStatusScreenSettings and managementServiceAppId are null, roleScopeTagIds
//     ["0"] (ASSUMED).
//   - Assignments: id "<profileId>_<groupId>_0" and target
//     #microsoft.graph.groupAssignmentTarget{groupId} (UNCONFIRMED id format, observed in the
//     module, §1.2); exclusionGroupAssignmentTarget and allDevicesAssignmentTarget (DOCUMENTED
//     target types; the all-devices id suffix is ASSUMED). source "direct".
//   - Default (deployment_profiles absent): one user-driven Microsoft Entra join profile named
//     "Default profile" (standard user; privacy settings, EULA and the change-account link
//     hidden; locale os-default) assigned to all devices (ASSUMED). An empty list: no profiles.
//   - Group membership: the emulator has no Entra groups; a group target with group_tag is a
//     stand-in for a dynamic device group on [OrderID]:<tag> — its members are the registered
//     devices with that group tag (ASSUMED; Server.inGroupLocked is the one place that decides).
//   - Per-device assignment on beta windowsAutopilotDeviceIdentities (list and GET {id}):
//     deploymentProfileAssignmentStatus, deploymentProfileAssignmentDetailedStatus ("none")
//     and deploymentProfileAssignedDateTime (DOCUMENTED fields, §2.1; v1.0 has none of them).
//     A device no profile targets is notAssigned. One that a profile targets — from its
//     registration (the import verdict's time; for seeded devices registeredAt, at the
//     earliest the emulator's start, when the configured assignments are made) — is
//     notAssigned for the first half of profile_delay, pending for the second, then
//     assignedUnkownSyncState (the sequence DOCUMENTED, "Not assigned to Assigning and finally
//     to Assigned", §2.4; the delay, default 30s, and its halves ASSUMED; the real service
//     takes minutes to hours). deploymentProfileAssignedDateTime is "0001-01-01T00:00:00Z"
//     until then (ASSUMED, like other unset Intune dates), then targeted + profile_delay.
//     When several profiles target a device, the oldest created wins (DOCUMENTED, §1.2).
//     The single-GET "unknown" status of microsoft-graph-docs#6877 is not reproduced
//     (UNCONFIRMED whether it still happens, §2.2).
//   - $expand=deploymentProfile (the assigned profile; null until assigned) and
//     intendedDeploymentProfile (the targeting profile) on beta list and GET {id}
//     (DOCUMENTED navigations, §2.1–2.2; on the list ASSUMED to work too). On v1.0, or for
//     another name, → 400 "Parsing OData Select and Expand failed: Could not find a property
//     named '…'" (DOCUMENTED message shape, §2.2).
//   - GET /organization (v1.0 and beta) → {"value":[{id = tenant id, displayName,
//     verifiedDomains:[{name, isDefault, isInitial, type, capabilities}]}]}, and
//     /organization/{tenant id} (DOCUMENTED shape, §3.3). It needs the application permission
//     Organization.Read.All (or Organization.ReadWrite.All, Directory.Read.All,
//     Directory.ReadWrite.All); otherwise 403 Authorization_RequestDenied "Insufficient
//     privileges to complete the operation." (permission DOCUMENTED §7; error ASSUMED from
//     Entra's usual answer). Default organization: one domain
//     apimportemulator.onmicrosoft.com, isDefault and isInitial (ASSUMED).
//
// # Corporate identifiers (lifecycle-api.md §5, §7; identities.go)
//
// DOCUMENTED: beta only (on /v1.0 the segment is the usual 400, ASSUMED wording); POST
// …/importDeviceIdentityList with {"importedDeviceIdentities":[{"importedDeviceIdentityType":
// "manufacturerModelSerial","importedDeviceIdentifier":"M,Mo,S"[,"description"]}],
// "overwriteImportedDeviceIdentities":bool} → 200 value[] of importedDeviceIdentityResult
// (the identity's fields + status); POST …/searchExistingIdentities with the same list →
// 200 value[] of the identities present (empty when none); GET list, GET {id}, DELETE {id}
// → 204; entity fields id, importedDeviceIdentifier, importedDeviceIdentityType,
// description, enrollmentState, platform, createdDateTime, lastModifiedDateTime,
// lastContactedDateTime; searchExistingIdentities and the list need only
// DeviceManagementServiceConfig.Read.All (§7), so the search is authorised, throttled and
// logged as a read (write=false) although it is a POST; the import needs ReadWrite.All.
//
// ASSUMED (the sources are silent):
//   - identifiers compare with each comma-separated part trimmed and case-insensitive;
//     the separator is a comma (the enum doc's "semicolon" is UNCONFIRMED, §5);
//   - a malformed identifier (not three non-empty comma-separated parts, or a type other
//     than manufacturerModelSerial) fails the whole import call with 400 BadRequest and
//     the Intune message "Invalid Device Identifier parameter found for N import records!"
//     (the message is DOCUMENTED by andrew-s-taylor/WindowsAutopilotInfo#21, its cause
//     and the all-or-nothing behaviour are not), nothing is stored; the search ignores such
//     identifiers (no match);
//   - status false: the identifier exists and overwrite is false (the portal asks
//     before overwriting), the same identifier came earlier in the same request, or
//     Server.SetIdentityRefusals named it (the service's real reasons are undocumented);
//   - overwrite true replaces the description and lastModifiedDateTime, keeping the id;
//   - new identities: enrollmentState "notContacted", platform "windows", no item limit
//     per call (the portal's 5,000 rows per file is the only documented number;
//     max_body_bytes still applies);
//   - list paging: page_size items, @odata.nextLink with $skiptoken = an offset;
//   - identities are kept in memory only: not part of State, seed or state_file.
//
// # Errors (§1.6)
//
// Every error is {"error":{"code","message","innerError":{"date","request-id",
// "client-request-id"}}} with request-id and client-request-id also as headers (DOCUMENTED).
// Errors raised by Intune (deviceManagement: 403, 404 ResourceNotFound, 405, eq-filter 400,
// $select 500, sync 409/429, injected 500) nest an Intune JSON document as a string in
// message (`{"_version": 3, "Message": "… - Operation ID … - Activity ID: <client-request-id>
// - Url: …", "CustomApiErrorPhrase": "", "RetryAfter": null, …}`, DOCUMENTED shape; which
// errors nest is ASSUMED). Gateway and OData errors (401, 429 throttling, 400 body and
// segment errors, 502/503/504) carry a plain message (ASSUMED).
//
// # Authentication and permissions (§1.5)
//
// Graph requests need "Authorization: Bearer <token>" issued by this emulator (RS256, aud
// https://graph.microsoft.com, tid, appid, roles, exp). Missing, malformed, foreign or
// expired → 401 InvalidAuthenticationToken with a WWW-Authenticate header (DOCUMENTED code;
// messages ASSUMED). Writes need the role DeviceManagementServiceConfig.ReadWrite.All; reads
// need it or DeviceManagementServiceConfig.Read.All; otherwise 403 Forbidden (§1.5 DOCUMENTED).
// /organization needs Organization.Read.All (see above). The permission check is one
// function, forbidden in auth.go.
// Authentication and throttling come before the permission check (ASSUMED).
//
// The other resources (lifecycle-api.md §7), same read/write split (an inner 403 names
// what is missing):
//
//   - /deviceManagement/managedDevices: DeviceManagementManagedDevices.Read.All or
//     .ReadWrite.All; DELETE needs .ReadWrite.All (DOCUMENTED, GD-md-delete); the 403 is
//     Intune-shaped like the other deviceManagement errors (ASSUMED).
//   - /devices: Device.Read.All, Device.ReadWrite.All, Directory.Read.All or
//     Directory.ReadWrite.All (DOCUMENTED: Device.Read.All least privileged; the others
//     ASSUMED as Graph's usual wider grants).
//   - /groups reads: GroupMember.Read.All, Group.Read.All, their ReadWrite twins or
//     Directory.* (ASSUMED: the least privilege for GET /groups?$filter is UNCONFIRMED, §9.10).
//   - POST/DELETE /groups/{id}/members/…/$ref of a device: GroupMember.ReadWrite.All (or
//     Group.ReadWrite.All, Directory.ReadWrite.All) AND, for an application,
//     Device.ReadWrite.All (or Directory.ReadWrite.All) (DOCUMENTED, current Learn page in
//     §6/§7; the delegated Device.Read.All does not apply to app-only tokens).
//   - POST …/windowsAutopilotDeviceIdentities/deleteDevices: DeviceManagementServiceConfig.
//     ReadWrite.All (ASSUMED: the doc page lists only Read scopes, taken as a doc error, §4.2).
//
// Directory endpoints (/devices, /groups) answer 403 with Entra's shape
// {"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the
// operation."} (DOCUMENTED by the json-batching.md example). The default client has
// DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementManagedDevices.ReadWrite.All,
// Device.ReadWrite.All and GroupMember.ReadWrite.All, so every endpoint works by default;
// roles narrows it.
//
// # Deregistration (lifecycle-api.md §4)
//
//   - DELETE …/windowsAutopilotDeviceIdentities/{id} → 200 with no body (DOCUMENTED as
//     observed, microsoft-graph-docs#20410: the docs say 204; delete_device_status 204 gives
//     the documented answer). The device leaves the list at once (ASSUMED: the service
//     takes minutes, §4.1; clients must poll). An unknown id → 400 BadRequest "Cannot find
//     device with ztd Id <id> and accountId <tenant id> to delete" (DOCUMENTED,
//     microsoft-graph-docs#7128), nested in the Intune error document (ASSUMED). GET of an
//     unknown id stays 404.
//   - The device's Entra object and Intune managed device are left alone (ASSUMED: §4.3 says
//     Entra objects of enrolled devices stay and those of never-enrolled devices "may" be
//     removed). Deleting a device that is still enrolled in Intune succeeds (ASSUMED: the
//     real error, if any, is UNCONFIRMED; 2024 reports say it works).
//   - POST …/windowsAutopilotDeviceIdentities/deleteDevices {"serialNumbers":[…]} → 200
//     {"value":[{"@odata.type":"microsoft.graph.deletedWindowsAutopilotDeviceState",
//     serialNumber, deviceRegistrationId, deletionState, errorMessage}]} (shape DOCUMENTED
//     by the Learn page, §4.2; existence UNCONFIRMED: absent from the CSDL). Every registered
//     device with the serial (trimmed, case-insensitive) is deleted with deletionState
//     "accepted"; an unknown serial gets "failed" and errorMessage "Cannot find device with
//     serial number …" (ASSUMED). delete_devices_action=false makes it the unknown-segment
//     400, to rehearse a client's fallback to single DELETEs.
//
// # Entra devices (lifecycle-api.md §6)
//
// Registering an Autopilot device (an import verdict, a seed or a state file) creates its
// Entra device object, as registration does (DOCUMENTED, §6): deviceId =
// azureActiveDirectoryDeviceId of the Autopilot device (a new GUID when the seed has none),
// a separate object id, displayName = the serial, operatingSystem "Windows", physicalIds
// ["[ZTDID]:<Autopilot id>"] (ASSUMED values).
//
//   - GET /devices (paged like the Intune lists), /devices?$filter=deviceId eq '…' (the
//     lookup the community script uses, §6; other filters → 400 Request_BadRequest, ASSUMED),
//     GET /devices/{object id} and the alternate key /devices(deviceId='…') (DOCUMENTED,
//     GD-device-get). Unknown → 404 Request_ResourceNotFound "Resource '<id>' does not exist
//     or one of its queried reference-property objects are not present." (ASSUMED, Graph's
//     usual directory answer). v1.0 and beta alike.
//
// # Groups (lifecycle-api.md §6)
//
// default_groups (["Autopilot Devices"]) are created at start when no group has the name
// (ASSUMED). Members are Entra devices only.
//
//   - GET /groups, /groups?$filter=displayName eq '…' (case-insensitive, ASSUMED; other
//     filters → 400), GET /groups/{id}, GET /groups/{id}/members (directoryObjects with
//     @odata.type #microsoft.graph.device) (DOCUMENTED endpoints, §6).
//   - POST /groups/{id}/members/$ref {"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/{id}"}
//     → 204 (DOCUMENTED, §6; any host and …/devices/{id} are accepted too, ASSUMED). Already a
//     member → 400 Request_BadRequest "One or more added object references already exist for
//     the following modified properties: 'members'." (400 DOCUMENTED, §6; code and message as
//     clients match them, ASSUMED). Unknown object or group → 404 Request_ResourceNotFound
//     (DOCUMENTED, §6). No @odata.id → 400 (ASSUMED).
//   - DELETE /groups/{id}/members/{id}/$ref → 204; not a member → 404 (ASSUMED; Graph's
//     documented removal call, outside the docs in shared/).
//   - Not modelled: dynamic groups (adding to one fails in reality, §6, anecdotal),
//     PATCH members@odata.bind, users.
//
// # Intune managed devices (lifecycle-api.md §4.3)
//
// A registered device whose serial is in enrolled_serials (CLI --enrolled-serials, or
// Server.Enroll at run time) is enrolled: a managedDevice (id, deviceName, serialNumber,
// manufacturer, model, azureADDeviceId = the Entra deviceId, operatingSystem "Windows",
// managementState "managed", enrolledDateTime) is created, and the Autopilot device gets
// managedDeviceId and enrollmentState "enrolled" (ASSUMED values).
//
//   - GET /deviceManagement/managedDevices (paged), ?$filter=serialNumber eq '…' (the
//     community lookup, §4.3; trimmed and case-insensitive, ASSUMED; other filters → 400),
//     GET {id}; unknown → 404 ResourceNotFound (Intune-shaped).
//   - DELETE /deviceManagement/managedDevices/{id} → 204 (DOCUMENTED, GD-md-delete); the
//     Autopilot device loses managedDeviceId and goes back to enrollmentState notContacted
//     (ASSUMED); the serial stays enrolled for devices registered later.
//
// The token endpoint accepts grant_type=client_credentials with a scope list containing
// https://graph.microsoft.com/.default (or GraphURL + "/.default"; openid, profile and
// offline_access are tolerated), authenticated by client_secret (post or basic) or by a
// client_assertion JWT (PS256 with x5t#S256 as MSAL sends, or RS256 with x5t) signed by a
// registered certificate; the signature, aud (= token endpoint), iss = sub = client id and
// exp are verified. Errors use Entra's shape (error, error_description "AADSTS…",
// error_codes): 700016 unknown client, 7000215 bad secret, 700027 bad assertion, 70011/
// 1002012 bad scope, 90002 unknown tenant (DOCUMENTED codes from Entra; ASSUMED fidelity).
// The default client has a generated certificate: Server.ClientCertFile holds it with its
// private key, ready for azidentity.ParseCertificates. Tokens live token_lifetime.
//
// # Throttling (§3)
//
// Per app per tenant: write_limit writes (POST/PATCH/PUT/DELETE) and request_limit requests
// per throttle_window (100/1000 per 20 s, DOCUMENTED as the stricter Intune bucket; which
// bucket applies is UNCONFIRMED). throttle_mode "sliding" (default) or "fixed". A throttled
// request gets 429 TooManyRequests "Please retry again later." with innerError.code "429"
// and Retry-After = whole seconds until the window frees (DOCUMENTED), or
// retry_after_seconds, or no header with omit_retry_after (DOCUMENTED that some Intune
// endpoints omit it). Throttled requests still count against request_limit (DOCUMENTED
// "usage keeps being logged while throttled"; count_throttled=false turns it off) but not
// against write_limit (ASSUMED). The outer $batch request is not counted; its items are
// (DOCUMENTED "evaluated individually").
//
// # Batching (§3)
//
// POST /$batch {"requests":[{id, method, url, headers, body, dependsOn}]}: at most 20 items
// (else 400), relative URLs only (absolute → item 400), Content-Type required with a body;
// items run in order, each authenticated, throttled (per-item 429 with its own Retry-After)
// and logged; an item whose dependency did not succeed → 424 FailedDependency; dependsOn
// must name an earlier item (else 400). Request ids are not case-sensitive and must be
// unique: "a" and "A" are a duplicate, and a duplicate fails the whole batch with 400
// before any item runs (json-batching.md, DOCUMENTED); dependsOn matches ids the same way.
// The batch answers 200 {"responses":[{id, status, headers, body}]} (DOCUMENTED).
// Item header names are spelled as Graph spells them ("Content-Type", "OData-Version",
// "Cache-Control", "Retry-After", "Location": DOCUMENTED by the json-batching.md example),
// not in Go's canonical form ("Odata-Version"); items also carry "request-id" and
// "client-request-id" and no transport headers (ASSUMED). Responses keep request order
// (ASSUMED; clients must not rely on it).
//
// # Faults
//
// Per HTTP request, one draw from a generator seeded with random_seed picks at most one of:
// dropped connection (hijacked and closed before the request is read, or after it took
// effect with faults.drop_after_processing), a 500/502/504, a 503 with Retry-After
// (faults.retry_after_503 seconds), or a slow response (faults.slow_delay). With
// faults.fault_batch_items, $batch items get 5xx/503 draws too. Same requests in the same
// order ⇒ same faults. Faults precede authentication and throttling and do not use budget.
// The token and discovery endpoints are never faulted.
//
// # Notes for clients (found while testing with msgraph-sdk-go v1.89.0)
//
//   - kiota-http-go v1.5.4: with compression on (the default) and the RetryHandler retrying a
//     POST, the retry goes out with the uncompressed body but still labelled
//     Content-Encoding: gzip; the emulator (like any server) answers 400. Build the client
//     with khttp.NewCompressionOptionsReference(false) when the RetryHandler may retry
//     writes, or retry writes yourself.
//   - A 429 inside $batch is not retried by the SDK (the outer response is 200).
//
// # Configuration keys (JSON; LoadConfig rejects unknown keys)
//
//	addr                       listen address (127.0.0.1:0); the CLI refuses non-loopback without --allow-remote
//	dir                        keeps ca.pem, client.pem and identity.json (keys, tenant, client, secret) across restarts; default a temp dir removed by Close
//	tenant_id, client_id       GUIDs (default random, or from dir/identity.json)
//	client_secret              secret of client_id (default random)
//	roles                      app roles of client_id's tokens (DeviceManagementServiceConfig.ReadWrite.All, Organization.Read.All,
//	                           DeviceManagementManagedDevices.ReadWrite.All, Device.ReadWrite.All, GroupMember.ReadWrite.All)
//	clients                    more apps: [{client_id, client_secret, certificate (PEM), roles}]
//	token_lifetime             "1h"
//	processing_delay           "5s" (tests use "20ms")
//	initial_status             "unknown" | "pending" | "partial" while processing
//	visibility_delay           "0s" (a new import record is hidden from GET/list/$batch this long)
//	write_limit, request_limit 100, 1000
//	throttle_window            "20s"
//	throttle_mode              "sliding" | "fixed"
//	count_throttled            true
//	omit_retry_after           false
//	retry_after_seconds        0 = computed
//	sync_cooldown              "10m"
//	sync_duration              "30s"
//	sync_throttled             0 (the first n sync calls get a throttling 429)
//	sync_cooldown_retry_after  false (true: the 10-minute 429 carries Retry-After)
//	page_size                  1000
//	max_import_items           0 = unlimited
//	max_body_bytes             33554432 (after gunzip; larger → 413)
//	select_status              500 (-1 = ignore $select)
//	reject_unknown_properties  true
//	reject_hyphen_contains     false
//	deployment_profiles        absent: one "Default profile" for all devices; a list of {id, display_name,
//	                            description, kind ("entra"|"hybrid"), device_name_template, locale ("os-default"),
//	                            device_type ("windowsPc"), hardware_hash_extraction, preprovisioning_allowed,
//	                            hybrid_skip_connectivity_check, user_type ("standard"|"administrator"),
//	                            device_usage_type ("singleUser"|"shared"), privacy_settings_hidden, eula_hidden,
//	                            keyboard_selection_page_skipped, escape_link_hidden, property_names
//	                            ("both"|"new"|"old"), created, assignments: [{target ("allDevices"|"group"|
//	                            "exclusionGroup"), group_id, group_tag}]}; [] = no profiles
//	profile_delay              "30s" (notAssigned → pending at half, assignedUnkownSyncState at the end)
//	organization               {display_name, verified_domains: [{name, is_default, is_initial, type}]}
//	faults                     {error_5xx, error_503_retry_after, retry_after_503 (1), drop_connection,
//	                            drop_after_processing, slow_response, slow_delay ("2s"),
//	                            storage_error, fault_batch_items}; rates are 0..1
//	random_seed                1
//	default_groups             ["Autopilot Devices"] ([] = none)
//	enrolled_serials           [] (serials enrolled in Intune; CLI --enrolled-serials)
//	delete_device_status       200 (observed) | 204 (documented)
//	delete_devices_action      true (false: deleteDevices is an unknown segment)
//	seed                       initial State (ignored when state_file exists)
//	state_file                 State persisted atomically (temp file + rename, every 250 ms when changed, and on Close) and reloaded at start
//	log_file                   JSON Lines request log (appended)
//	log_memory                 100000 entries kept for Requests()
//
// Durations are Go duration strings ("150ms") or numbers of seconds. Start fills zero
// durations, limits, page_size, max_body_bytes, select_status, initial_status, roles,
// log_memory and the nil booleans count_throttled/reject_unknown_properties from
// DefaultConfig; other booleans, rates and random_seed are taken as given (DefaultConfig
// has random_seed 1).
//
// # State / seed format
//
//	{"registered": [{"id", "serialNumber", "manufacturer", "model", "groupTag", "userPrincipalName", …,
//	                 "registeredAt" (profile assignment counts from it)}],
//	 "imported":   [{"id", "serialNumber", "hardwareIdentifier" (base64), "groupTag", "state": {…},
//	                 "createdAt", "processAt", "presetErrorCode"}],
//	 "other_tenant_serials": ["SN…"],
//	 "entra_devices": [{"id", "deviceId", "displayName", "operatingSystem", "physicalIds", "accountEnabled"}],
//	 "groups": [{"id", "displayName", "description", "securityEnabled", "mailEnabled", "groupTypes", "members": [object ids]}],
//	 "managed_devices": [{"id", "deviceName", "serialNumber", "manufacturer", "model", "azureADDeviceId", …}],
//	 "settings": {"lastSyncDateTime", "lastManualSyncTriggerDateTime", "syncStatus"}}
//
// Seeded imported records without a final state are processed at processAt (default
// createdAt + processing_delay); presetErrorCode forces a verdict.
//
// # Scale
//
// State is in memory: slices ordered by creation plus id and serial indexes; pages start
// by binary search on the $skiptoken. go test -bench . (2 shared vCPU, HTTPS keep-alive,
// client-side JSON decoding included), 50,000 registered devices and 10,000 imported
// identities: one 1000-device page 5–8 ms, the last page 5–6 ms, all 50 pages 345–370 ms,
// a contains() filter over all 50,000 5 ms, one 1000-record page of imported identities
// (with their 4 KB hashes, about 5 MB of JSON) 80–90 ms.
//
// # Request log
//
// One LogEntry per HTTP request and one per $batch item (batch=true): time, method, path,
// query, status, serials (never hashes), throttled, write, app_id, request_id (the
// response's request-id header), fault, content_encoding, duration_ms. Token and discovery
// requests are logged too (method, path, status). Written to log_file as JSON Lines and kept in memory (Requests()).
package emulator

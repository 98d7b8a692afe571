// Independent-client conformance test for the apimport Graph emulator (issue 10).
//
// Microsoft's JavaScript Graph client and @azure/identity (pinned in package.json)
// drive `apimport emulator`: token, import, polling, listing, $batch, sync,
// deletion of import records, Entra devices, groups, Intune managed devices and
// deregistration. Run it with ./run.sh, which builds apimport, creates the
// emulator's CA once (--dir keeps it) and sets NODE_EXTRA_CA_CERTS, which Node
// reads only at start. Hardware hashes come from samples/grouptag.csv and are never
// printed.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { ClientSecretCredential } from "@azure/identity";
import { Client, GraphError, ResponseType, RetryHandlerOptions } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const bin = process.env.APIMPORT_BIN;
const emuDir = process.env.EMULATOR_DIR;
const ENROLLED = "CZC4101221"; // passed as --enrolled-serials
const noRetry = [new RetryHandlerOptions(0, 0)]; // see each request's own answer

/** Devices of samples/grouptag.csv: serial, hash (never printed), group tag, user. */
function sampleDevices() {
	const lines = readFileSync(join(repo, "samples", "grouptag.csv"), "utf8").split(/\r?\n/).filter(Boolean);
	const head = lines[0].split(",");
	const col = (name) => head.indexOf(name);
	return lines.slice(1).map((l) => {
		const f = l.split(",");
		return { serial: f[col("Device Serial Number")], hash: f[col("Hardware Hash")], tag: f[col("Group Tag")], user: f[col("Assigned User")] };
	});
}

function importedItem(d) {
	return {
		"@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
		serialNumber: d.serial,
		hardwareIdentifier: d.hash,
		groupTag: d.tag,
		assignedUserPrincipalName: d.user,
		productKey: "",
		state: { "@odata.type": "microsoft.graph.importedWindowsAutopilotDeviceIdentityState", deviceImportStatus: "pending", deviceRegistrationId: "", deviceErrorCode: 0, deviceErrorName: "" },
	};
}

/** rejects runs fn and returns the GraphError it must throw. */
async function rejects(fn, status) {
	try {
		await fn();
	} catch (e) {
		assert.ok(e instanceof GraphError, `want a GraphError, got ${e}`);
		assert.equal(e.statusCode, status, `status ${e.statusCode} (${e.code}: ${e.message})`);
		return e;
	}
	assert.fail(`want HTTP ${status}, the request succeeded`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("apimport emulator, driven by @microsoft/microsoft-graph-client and @azure/identity", () => {
	let emu, info, cred, client;
	const devices = sampleDevices();
	const records = new Map(); // serial -> import record id
	const registered = new Map(); // serial -> windowsAutopilotDeviceIdentity

	before(async () => {
		assert.ok(bin && emuDir && process.env.NODE_EXTRA_CA_CERTS, "run through conformance/node/run.sh (APIMPORT_BIN, EMULATOR_DIR, NODE_EXTRA_CA_CERTS)");
		const cfg = join(emuDir, "..", "emulator.json");
		writeFileSync(cfg, JSON.stringify({ sync_duration: "1s" }));
		emu = spawn(bin, ["emulator", "--dir", emuDir, "--config", cfg, "--processing-delay", "500ms", "--enrolled-serials", ENROLLED], { stdio: ["ignore", "pipe", "pipe"] });
		let stderr = "";
		emu.stderr.on("data", (b) => (stderr += b));
		info = await new Promise((resolve, reject) => {
			const got = {};
			const timer = setTimeout(() => reject(new Error("emulator did not start in 30s: " + stderr)), 30000);
			emu.on("exit", (code) => reject(new Error(`emulator exited ${code}: ${stderr}`)));
			createInterface({ input: emu.stdout }).on("line", (line) => {
				const i = line.indexOf(": ");
				if (i > 0) got[line.slice(0, i)] = line.slice(i + 2);
				if (got.ca_file) {
					clearTimeout(timer);
					resolve(got);
				}
			});
		});
		for (const k of ["graph_url", "authority_url", "tenant_id", "client_id", "client_secret", "ca_file"]) assert.ok(info[k], `no ${k} line`);
		assert.equal(info.ca_file, process.env.NODE_EXTRA_CA_CERTS, "the emulator's CA is the one Node trusts (--dir keeps it)");
		cred = new ClientSecretCredential(info.tenant_id, info.client_id, info.client_secret, { authorityHost: info.authority_url, disableInstanceDiscovery: true });
		const authProvider = new TokenCredentialAuthenticationProvider(cred, { scopes: ["https://graph.microsoft.com/.default"] });
		client = Client.initWithMiddleware({ authProvider, baseUrl: info.graph_url + "/", defaultVersion: "v1.0", customHosts: new Set([new URL(info.graph_url).hostname]) });
	});

	after(async () => {
		if (emu && emu.exitCode === null) {
			emu.removeAllListeners("exit");
			const done = new Promise((r) => emu.once("exit", r));
			emu.kill("SIGINT");
			await done;
		}
	});

	test("token: ClientSecretCredential gets a Graph token from the emulator's authority", async () => {
		const tok = await cred.getToken("https://graph.microsoft.com/.default");
		assert.ok(tok && tok.token.split(".").length === 3, "a JWT");
		const claims = JSON.parse(Buffer.from(tok.token.split(".")[1], "base64url").toString());
		assert.equal(claims.tid, info.tenant_id);
		assert.equal(claims.aud, "https://graph.microsoft.com");
		assert.ok(claims.roles.includes("DeviceManagementServiceConfig.ReadWrite.All"));
		assert.ok(tok.expiresOnTimestamp > Date.now());
	});

	test("import: one create (201) and the import action (200), records without the hash", async () => {
		const [first, ...rest] = devices;
		const created = await client.api("/deviceManagement/importedWindowsAutopilotDeviceIdentities").post(importedItem(first));
		assert.ok(created.id);
		assert.equal(created.serialNumber, first.serial);
		assert.equal(created.state.deviceImportStatus, "unknown");
		assert.ok(!created.hardwareIdentifier, "hardwareIdentifier is not echoed");
		records.set(first.serial, created.id);
		const res = await client.api("/deviceManagement/importedWindowsAutopilotDeviceIdentities/import").post({ importedWindowsAutopilotDeviceIdentities: rest.map(importedItem) });
		assert.equal(res.value.length, rest.length);
		res.value.forEach((r, i) => {
			assert.equal(r.serialNumber, rest[i].serial, "answers in item order");
			assert.ok(!r.hardwareIdentifier, "hardwareIdentifier is not echoed");
			records.set(r.serialNumber, r.id);
		});
	});

	test("polling: GET by id until complete, with deviceRegistrationId", async () => {
		const deadline = Date.now() + 20000;
		for (const [serial, id] of records) {
			let rec;
			do {
				rec = await client.api(`/deviceManagement/importedWindowsAutopilotDeviceIdentities/${id}`).get();
				if (rec.state.deviceImportStatus === "complete" || rec.state.deviceImportStatus === "error") break;
				await sleep(200);
			} while (Date.now() < deadline);
			assert.equal(rec.state.deviceImportStatus, "complete", `${serial}: ${rec.state.deviceErrorCode} ${rec.state.deviceErrorName}`);
			assert.equal(rec.state.deviceErrorCode, 0);
			assert.ok(rec.state.deviceRegistrationId);
			assert.ok(!rec.hardwareIdentifier, "hardwareIdentifier is not echoed");
		}
	});

	test("registered devices: list, contains() filter, eq filter refused, GET by id", async () => {
		const all = await client.api("/deviceManagement/windowsAutopilotDeviceIdentities").get();
		assert.equal(all.value.length, devices.length);
		for (const d of all.value) registered.set(d.serialNumber, d);
		for (const d of devices) {
			const dev = registered.get(d.serial);
			assert.ok(dev, `${d.serial} registered`);
			assert.equal(dev.groupTag, d.tag);
			assert.ok(dev.azureActiveDirectoryDeviceId, "has an Entra deviceId");
		}
		const one = await client.api("/deviceManagement/windowsAutopilotDeviceIdentities").filter(`contains(serialNumber,'${devices[1].serial}')`).get();
		assert.deepEqual(one.value.map((d) => d.serialNumber), [devices[1].serial]);
		await rejects(() => client.api("/deviceManagement/windowsAutopilotDeviceIdentities").filter(`serialNumber eq '${devices[1].serial}'`).get(), 400);
		const byId = await client.api(`/deviceManagement/windowsAutopilotDeviceIdentities/${registered.get(devices[0].serial).id}`).get();
		assert.equal(byId.serialNumber, devices[0].serial);
	});

	test("$batch: GETs of the import records, headers spelled as Graph does", async () => {
		const ids = [...records.values()];
		const res = await client.api("/$batch").post({ requests: ids.map((id, i) => ({ id: `r${i}`, method: "GET", url: `/deviceManagement/importedWindowsAutopilotDeviceIdentities/${id}` })) });
		assert.equal(res.responses.length, ids.length);
		for (const r of res.responses) {
			assert.equal(r.status, 200, `item ${r.id}`);
			assert.ok(!r.body.hardwareIdentifier, "hardwareIdentifier is not echoed");
			assert.ok("Content-Type" in r.headers && "OData-Version" in r.headers, `header names ${Object.keys(r.headers)}`);
			assert.ok(!("Odata-Version" in r.headers) && !("Request-Id" in r.headers), `Go-canonical names ${Object.keys(r.headers)}`);
		}
	});

	test("$batch: duplicate ids, also in another case, fail the whole batch with 400", async () => {
		const url = "/deviceManagement/windowsAutopilotDeviceIdentities";
		for (const ids of [["1", "1"], ["item-a", "ITEM-A"]]) {
			const e = await rejects(() => client.api("/$batch").post({ requests: ids.map((id) => ({ id, method: "GET", url })) }), 400);
			assert.match(e.message, /not unique/);
		}
	});

	test("sync (beta): 204, 409 while running, then the 10-minute 429 without Retry-After", async () => {
		const sync = () => client.api("/deviceManagement/windowsAutopilotSettings/sync").version("beta").middlewareOptions(noRetry).post(null);
		await sync();
		const busy = await rejects(sync, 409);
		assert.equal(busy.code, "Conflict");
		let settings;
		for (let i = 0; i < 50; i++) {
			settings = await client.api("/deviceManagement/windowsAutopilotSettings").version("beta").get();
			if (settings.syncStatus === "completed") break;
			await sleep(100);
		}
		assert.equal(settings.syncStatus, "completed");
		const soon = await rejects(sync, 429);
		assert.equal(soon.headers?.get("retry-after") ?? null, null, "no Retry-After on the 10-minute 429");
		assert.match(soon.message, /"RetryAfter": null/, "the nested Intune message");
		await rejects(() => client.api("/deviceManagement/windowsAutopilotSettings/sync").middlewareOptions(noRetry).post(null), 400); // v1.0 has none
	});

	test("import records: DELETE each (204), then gone (404)", async () => {
		for (const id of records.values()) {
			const raw = await client.api(`/deviceManagement/importedWindowsAutopilotDeviceIdentities/${id}`).responseType(ResponseType.RAW).delete();
			assert.equal(raw.status, 204);
		}
		const id = records.values().next().value;
		await rejects(() => client.api(`/deviceManagement/importedWindowsAutopilotDeviceIdentities/${id}`).get(), 404);
		const left = await client.api("/deviceManagement/importedWindowsAutopilotDeviceIdentities").get();
		assert.equal(left.value.length, 0);
	});

	test("Entra devices: $filter=deviceId eq and the deviceId alternate key", async () => {
		const dev = registered.get(devices[0].serial);
		const res = await client.api("/devices").filter(`deviceId eq '${dev.azureActiveDirectoryDeviceId}'`).get();
		assert.equal(res.value.length, 1);
		assert.equal(res.value[0].deviceId, dev.azureActiveDirectoryDeviceId);
		assert.notEqual(res.value[0].id, dev.azureActiveDirectoryDeviceId, "object id differs from deviceId");
		const alt = await client.api(`/devices(deviceId='${dev.azureActiveDirectoryDeviceId}')`).get();
		assert.equal(alt.id, res.value[0].id);
		await rejects(() => client.api("/devices/00000000-0000-0000-0000-000000000000").get(), 404);
	});

	test("groups: 'Autopilot Devices' by displayName, add a member (204), again (400), list members", async () => {
		const groups = await client.api("/groups").filter("displayName eq 'Autopilot Devices'").get();
		assert.equal(groups.value.length, 1);
		const gid = groups.value[0].id;
		assert.equal((await client.api(`/groups/${gid}`).get()).displayName, "Autopilot Devices");
		const dev = registered.get(devices[0].serial);
		const entra = (await client.api("/devices").filter(`deviceId eq '${dev.azureActiveDirectoryDeviceId}'`).get()).value[0];
		const ref = { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${entra.id}` };
		const raw = await client.api(`/groups/${gid}/members/$ref`).responseType(ResponseType.RAW).post(ref);
		assert.equal(raw.status, 204);
		const again = await rejects(() => client.api(`/groups/${gid}/members/$ref`).post(ref), 400);
		assert.equal(again.code, "Request_BadRequest");
		assert.match(again.message, /One or more added object references already exist/);
		const members = await client.api(`/groups/${gid}/members`).get();
		assert.deepEqual(members.value.map((m) => m.id), [entra.id]);
		assert.equal(members.value[0]["@odata.type"], "#microsoft.graph.device");
		await rejects(() => client.api(`/groups/${gid}/members/$ref`).post({ "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/missing" }), 404);
	});

	test("Intune managed devices: the enrolled serial, by $filter=serialNumber eq", async () => {
		const res = await client.api("/deviceManagement/managedDevices").filter(`serialNumber eq '${ENROLLED}'`).get();
		assert.equal(res.value.length, 1);
		const dev = await client.api(`/deviceManagement/windowsAutopilotDeviceIdentities/${registered.get(ENROLLED).id}`).get();
		assert.equal(dev.enrollmentState, "enrolled");
		assert.equal(dev.managedDeviceId, res.value[0].id);
		assert.equal(res.value[0].azureADDeviceId, dev.azureActiveDirectoryDeviceId);
		const none = await client.api("/deviceManagement/managedDevices").filter(`serialNumber eq '${devices[0].serial}'`).get();
		assert.equal(none.value.length, 0);
	});

	test("deregistration: DELETE → 200, again → 400 'Cannot find device with ztd Id', bulk deleteDevices", async () => {
		const id = registered.get(devices[0].serial).id;
		const path = `/deviceManagement/windowsAutopilotDeviceIdentities/${id}`;
		const raw = await client.api(path).responseType(ResponseType.RAW).delete();
		assert.equal(raw.status, 200);
		const gone = await rejects(() => client.api(path).delete(), 400);
		assert.match(gone.message, new RegExp(`Cannot find device with ztd Id ${id}`));
		const bulk = await client.api("/deviceManagement/windowsAutopilotDeviceIdentities/deleteDevices").post({ serialNumbers: [devices[1].serial, "NO-SUCH-SERIAL"] });
		assert.deepEqual(bulk.value.map((v) => [v.serialNumber, v.deletionState]), [[devices[1].serial, "accepted"], ["NO-SUCH-SERIAL", "failed"]]);
		assert.equal(bulk.value[0].deviceRegistrationId, registered.get(devices[1].serial).id);
		const left = await client.api("/deviceManagement/windowsAutopilotDeviceIdentities").get();
		assert.deepEqual(left.value.map((d) => d.serialNumber).sort(), devices.slice(2).map((d) => d.serial).sort());
	});
});

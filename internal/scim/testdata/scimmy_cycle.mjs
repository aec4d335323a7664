// A full provisioning cycle against flexidp's SCIM server, with SCIMMY
// (npm "scimmy", an independent SCIM 2.0 implementation) shaping every
// resource and message sent and validating every one received: resources
// are coerced through SCIMMY's User and Group schema definitions (types,
// required attributes, mutability), lists through its ListResponse,
// PATCH bodies through its PatchOp message, filters through its Filter
// parser (whose own matcher must agree with what the server returned).
//
// Run by TestSCIMMYProvisioningCycle: node scimmy_cycle.mjs, with
// SCIM_BASE (…/scim/v2), SCIM_TOKEN and NODE_PATH-like resolution of
// "scimmy" from FLEXIDP_SCIMMY (its node_modules directory).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.FLEXIDP_SCIMMY, "x.js"));
const SCIMMY = require("scimmy");
const base = process.env.SCIM_BASE;
const token = process.env.SCIM_TOKEN;
const FLEX = "urn:flexidp:params:scim:schemas:extension:flex:2.0:User";

let requests = 0;
async function scim(method, endpoint, body) {
  requests++;
  const res = await fetch(base + endpoint, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/scim+json", Accept: "application/scim+json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : undefined;
  if (res.status >= 400) {
    // SCIMMY's ErrorResponse accepts only what RFC 7644 3.12 allows.
    const e = new SCIMMY.Messages.ErrorResponse({ status: Number(json.status), scimType: json.scimType, detail: json.detail });
    assert.equal(String(e.status), json.status);
    assert.deepEqual(json.schemas, [SCIMMY.Messages.ErrorResponse.id]);
  } else if (json) {
    assert.match(res.headers.get("content-type"), /^application\/scim\+json/);
  }
  return { status: res.status, json, etag: res.headers.get("etag") };
}

// user and group check a received resource with SCIMMY's definitions.
function user(r) {
  const { [FLEX]: flex, ...core } = r;
  const out = SCIMMY.Schemas.User.definition.coerce(core, "out");
  assert.equal(out.id, r.id);
  assert.equal(out.meta.resourceType, "User");
  return r;
}
function group(r) {
  const { ["urn:flexidp:params:scim:schemas:extension:flex:2.0:Group"]: _, ...core } = r;
  const out = SCIMMY.Schemas.Group.definition.coerce(core, "out");
  assert.equal(out.meta.resourceType, "Group");
  return r;
}
function list(r, check) {
  const l = new SCIMMY.Messages.ListResponse(r);
  assert.equal(l.totalResults, r.totalResults);
  for (const x of r.Resources) check(x);
  return r;
}
function patch(...ops) {
  return JSON.parse(JSON.stringify(new SCIMMY.Messages.PatchOp({ schemas: [SCIMMY.Messages.PatchOp.id], Operations: ops })));
}
function filtered(expr, resources) {
  const f = new SCIMMY.Types.Filter(expr); // SCIMMY must parse what we send
  return f.match(resources);
}

// Discovery.
let r = await scim("GET", "/ServiceProviderConfig");
assert.equal(r.status, 200);
SCIMMY.Schemas.ServiceProviderConfig.definition.coerce(r.json, "out");
assert.equal(r.json.patch.supported, true);
r = await scim("GET", "/ResourceTypes");
list(r.json, (t) => SCIMMY.Schemas.ResourceType.definition.coerce(t, "out"));
assert.deepEqual(r.json.Resources.map((t) => t.name).sort(), ["Group", "User"]);
r = await scim("GET", "/Schemas");
assert.ok(r.json.Resources.some((s) => s.id === FLEX));

// Create 20 agents, shaped by SCIMMY's User schema (inbound direction).
const ids = [];
for (let i = 0; i < 20; i++) {
  const body = SCIMMY.Schemas.User.definition.coerce({
    schemas: [SCIMMY.Schemas.User.id], userName: `agent${i}@example.com`, externalId: `hr-${i}`,
    name: { givenName: "Agent", familyName: String(i) }, emails: [{ value: `agent${i}@example.com`, type: "work", primary: true }],
    active: true,
  }, "in");
  body[FLEX] = { roles: ["agent"], team: i % 2 ? "Odd" : "Even" };
  r = await scim("POST", "/Users", body);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  ids.push(user(r.json).id);
  assert.equal(r.json.externalId, `hr-${i}`);
}
r = await scim("POST", "/Users", { schemas: [SCIMMY.Schemas.User.id], userName: "AGENT0@example.com" });
assert.equal(r.status, 409);
assert.equal(r.json.scimType, "uniqueness");

// Paging: 20 users in pages of 7.
const seen = [];
for (let start = 1; start <= 20; start += 7) {
  r = await scim("GET", `/Users?startIndex=${start}&count=7`);
  list(r.json, user);
  assert.equal(r.json.totalResults, 20);
  assert.equal(r.json.startIndex, start);
  seen.push(...r.json.Resources.map((u) => u.id));
}
assert.deepEqual([...seen].sort(), [...ids].sort());

// Filters: the server's answer is what SCIMMY's own matcher selects.
r = await scim("GET", "/Users?count=1000");
const all = list(r.json, user).Resources;
for (const expr of ['userName eq "agent3@example.com"', 'externalId eq "hr-7"', 'userName sw "agent1"', 'name.familyName co "1"',
  'active eq true and userName ew "5@example.com"', 'externalId eq "hr-1" or externalId eq "hr-2"', 'displayName pr']) {
  r = await scim("GET", "/Users?filter=" + encodeURIComponent(expr));
  const got = list(r.json, user).Resources.map((u) => u.id).sort();
  const want = filtered(expr, all).map((u) => u.id).sort();
  assert.deepEqual(got, want, expr);
}
r = await scim("POST", "/Users/.search", JSON.parse(JSON.stringify(new SCIMMY.Messages.SearchRequest({ schemas: [SCIMMY.Messages.SearchRequest.id], filter: 'externalId eq "hr-4"', count: 5 }))));
assert.equal(r.status, 200);
assert.equal(list(r.json, user).totalResults, 1);
r = await scim("GET", "/Users?filter=" + encodeURIComponent('nickName eq "x"'));
assert.equal(r.status, 400);
assert.equal(r.json.scimType, "invalidFilter");

// PATCH: the server's result agrees with SCIMMY applying the same ops.
r = await scim("PATCH", "/Users/" + ids[0], patch({ op: "replace", path: "name.familyName", value: "Renamed" },
  { op: "add", path: "displayName", value: "Agent Renamed" }));
assert.equal(r.status, 200, JSON.stringify(r.json));
user(r.json);
assert.equal(r.json.name.familyName, "Renamed");
r = await scim("PATCH", "/Users/" + ids[1], patch({ op: "Replace", path: "active", value: "False" }));
assert.equal(r.json.active, false);
r = await scim("PATCH", "/Users/" + ids[1], patch({ op: "replace", path: 'emails[type eq "work"].value', value: "moved1@example.com" }));
assert.equal(r.json.userName, "moved1@example.com");
r = await scim("GET", "/Users?filter=" + encodeURIComponent("active eq false"));
assert.deepEqual(list(r.json, user).Resources.map((u) => u.id), [ids[1]]);

// PUT replaces the resource.
r = await scim("GET", "/Users/" + ids[2]);
const put = { ...r.json, name: { formatted: "Agent Two", givenName: "Agent", familyName: "Two" } };
delete put.meta;
put[FLEX] = { roles: ["agent", "supervisor"], team: "Leads" };
r = await scim("PUT", "/Users/" + ids[2], put);
assert.equal(r.status, 200, JSON.stringify(r.json));
assert.deepEqual(user(r.json)[FLEX].roles, ["agent", "supervisor"]);

// Groups: create with members, change them, filter, delete.
r = await scim("POST", "/Groups", { schemas: [SCIMMY.Schemas.Group.id], displayName: "Spanish Sales",
  members: ids.slice(0, 5).map((value) => ({ value })) });
assert.equal(r.status, 201, JSON.stringify(r.json));
const gid = group(r.json).id;
assert.equal(r.json.members.length, 5);
r = await scim("PATCH", "/Groups/" + gid, patch({ op: "remove", path: `members[value eq "${ids[0]}"]` },
  { op: "add", path: "members", value: [{ value: ids[10] }] }));
assert.equal(r.status, 200, JSON.stringify(r.json));
assert.deepEqual(group(r.json).members.map((m) => m.value).sort(), [...ids.slice(1, 5), ids[10]].sort());
r = await scim("GET", "/Groups?filter=" + encodeURIComponent('displayName eq "Spanish Sales"'));
assert.equal(list(r.json, group).totalResults, 1);
r = await scim("DELETE", "/Groups/" + gid);
assert.equal(r.status, 204);

// Deprovision: delete every user; the list is empty afterwards.
for (const id of ids) {
  r = await scim("DELETE", "/Users/" + id);
  assert.equal(r.status, 204);
}
r = await scim("GET", "/Users");
assert.equal(list(r.json, user).totalResults, 0);
r = await scim("GET", "/Users/" + ids[0]);
assert.equal(r.status, 404);
console.log(`SCIMMY cycle: ${requests} requests, all checked`);

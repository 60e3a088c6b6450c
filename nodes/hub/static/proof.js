// Verifies an audit entry's inclusion proof in the browser (RFC 9162 §2.1.3.2, as crypto/merkle.py):
// leaf hash = SHA-256(0x00 || leaf), node = SHA-256(0x01 || left || right); the proof must have
// exactly the path's length, every hash 32 bytes, and lead to the checkpoint's root at its size.
"use strict";

function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

async function sha256(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { joined.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

const bitLength = (n) => (n === 0 ? 0 : Math.floor(Math.log2(n)) + 1);
const popCount = (n) => { let c = 0; while (n > 0) { c += n & 1; n = Math.floor(n / 2); } return c; };
const equal = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

// Resolves to null if the proof verifies, else to the reason it does not.
async function verifyInclusion(data) {
  const { index, size } = data;
  if (!Number.isSafeInteger(size) || size < 1) return "bad tree size";
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) return "index outside the tree";
  let leaf, root, proof;
  try {
    leaf = fromBase64(data.leaf);
    root = fromBase64(data.root);
    proof = data.proof.map(fromBase64);
  } catch (e) {
    return "not base64";
  }
  if (root.length !== 32) return "the root is not 32 bytes";
  const short = proof.findIndex((p) => p.length !== 32);
  if (short >= 0) return `proof[${short}] is not 32 bytes`;
  const inner = bitLength(index ^ (size - 1));
  const expected = inner + popCount(Math.floor(index / 2 ** inner));
  if (proof.length !== expected) return `proof has ${proof.length} hashes, the path has ${expected}`;
  let fn = index, sn = size - 1;
  let r = await sha256(new Uint8Array([0]), leaf);
  const one = new Uint8Array([1]);
  for (const p of proof) {
    if (sn === 0) return "the proof is longer than the path to the root";
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(one, p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(one, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return "the proof is shorter than the path to the root";
  if (!equal(r, root)) return "the proof leads to another root than the checkpoint's";
  return null;
}

async function showProofStatus() {
  const status = document.getElementById("proof-status");
  const source = document.getElementById("proof-data");
  if (!status || !source) return;
  let failure;
  try {
    failure = await verifyInclusion(JSON.parse(source.textContent));
  } catch (e) {
    failure = `cannot check: ${e.message}`;
  }
  status.textContent = failure === null ? "matches the hub's checkpoint" : `FAILED: ${failure}`;
  status.className = failure === null ? "verified" : "rejected";
}

// The checkpoint an auditor pastes: origin, size and root of a signed note (C2SP tlog-checkpoint).
// Its signatures are not checked here (this script comes from the hub); the result says so.
function parsePinned(text, origin) {
  const lines = text.replace(/\r\n/g, "\n").trim().split("\n");
  if (lines.length < 3) return { error: "a checkpoint has an origin, a size and a root line" };
  const [name, sizeText, rootText] = lines.map((l) => l.trim());
  if (name !== origin) return { error: `the checkpoint is of log "${name}", not "${origin}"` };
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) return { error: "bad tree size" };
  return { size: Number(sizeText), root: rootText };
}

async function checkPinned(event) {
  event.preventDefault();
  const out = document.getElementById("pinned-status");
  const data = JSON.parse(document.getElementById("proof-data").textContent);
  const pinned = parsePinned(document.getElementById("pinned-checkpoint").value, data.origin);
  let failure = pinned.error || null;
  if (failure === null && data.index >= pinned.size) failure = `entry ${data.index} is not in a tree of ${pinned.size}`;
  if (failure === null) {
    try {
      const r = await fetch(`/api/log/inclusion?index=${data.index}&size=${pinned.size}`);
      const answer = await r.json();
      failure = r.ok ? await verifyInclusion({ leaf: data.leaf, index: data.index, size: pinned.size,
                                               root: pinned.root, proof: answer.proof })
                     : `the hub refused a proof for size ${pinned.size}: ${answer.detail || r.status}`;
    } catch (e) {
      failure = `cannot check: ${e.message}`;
    }
  }
  out.textContent = failure === null
    ? `included in the checkpoint you supplied (size ${pinned.size}); check its signatures offline`
    : `FAILED: ${failure}`;
  out.className = failure === null ? "verified" : "rejected";
}

const pinnedForm = document.getElementById("pinned-form");
if (pinnedForm) pinnedForm.addEventListener("submit", checkPinned);

window.somexVerifyInclusion = verifyInclusion;
showProofStatus();

// k8s_schema.mjs NPM_DIR DOCS.json: Kubernetes objects (a JSON list of [file, object] pairs, the
// manifests' YAML documents as k8s_local.t reads them) checked against the Kubernetes API's
// own models, as `kubectl apply --validate=strict` would before a cluster takes them: every
// field known to its type (@kubernetes/client-node's attribute maps, walked here), and the
// types, required fields and enums of kubernetes-models' validators. One line per fault, file
// and field named; exit 1 when there is one, 2 when a package or a kind cannot be loaded.
import fs from 'node:fs';
import path from 'node:path';

const [npmDir, docsFile] = process.argv.slice(2);
const mods = path.join(npmDir, 'node_modules');
const faults = [];
// a field's place: the object's name, then its path ("job.yaml: Job kgsup: spec.completions")
const at = (where, k) => (where.endsWith(':') ? `${where} ${k}` : `${where}.${k}`);

// client-node's generated models only: its index loads an HTTP stack this Node.js may lack
const models = await import(path.join(mods, '@kubernetes/client-node/dist/gen/models/all.js'));
const primitive = { string: 'string', number: 'number', boolean: 'boolean', Date: 'string' };

function walk(v, type, where) {
	let m;
	if ((m = /^Array<(.+)>$/.exec(type))) {
		if (!Array.isArray(v)) return faults.push(`${where}: not a list`);
		return v.forEach((e, i) => walk(e, m[1], `${where}[${i}]`));
	}
	if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
		if (v === null || typeof v !== 'object' || Array.isArray(v))
			return faults.push(`${where}: not a map`);
		return Object.entries(v).forEach(([k, e]) => walk(e, m[1], at(where, k)));
	}
	if (type in primitive) {
		if (typeof v !== primitive[type]) faults.push(`${where}: not a ${primitive[type]}`);
		return;
	}
	if (type === 'IntOrString') {
		if (typeof v !== 'string' && typeof v !== 'number') faults.push(`${where}: not int-or-string`);
		return;
	}
	const cls = models[type];
	if (!cls || !cls.getAttributeTypeMap) return; // any, object: free-form in the API too
	if (v === null || typeof v !== 'object' || Array.isArray(v))
		return faults.push(`${where}: not an object`);
	const fields = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
	for (const [k, e] of Object.entries(v)) {
		if (fields.has(k)) walk(e, fields.get(k), at(where, k));
		else faults.push(`${at(where, k)}: unknown field of ${type}`);
	}
}

for (const [file, o] of JSON.parse(fs.readFileSync(docsFile, 'utf8'))) {
	const where = `${file}: ${o.kind} ${o.metadata && o.metadata.name}`;
	const slash = o.apiVersion.lastIndexOf('/');
	const group = slash < 0 ? '' : o.apiVersion.slice(0, slash) + '/';
	const version = o.apiVersion.slice(slash + 1);
	const name = 'V' + version.slice(1) + o.kind;
	if (!models[name]) {
		console.log(`${where}: no model ${name} for ${o.apiVersion}`);
		process.exit(2);
	}
	walk(o, name, where + ':');
	let kind;
	try {
		kind = (await import(path.join(mods, 'kubernetes-models', group + version, o.kind + '.js')))[o.kind];
	} catch (e) {
		console.log(`${where}: kubernetes-models has no ${o.apiVersion} ${o.kind}: ${e.message}`);
		process.exit(2);
	}
	try {
		new kind(o).validate();
	} catch (e) {
		faults.push(`${where}: ${e.message}`);
	}
}
faults.forEach((f) => console.log(f));
process.exit(faults.length ? 1 : 0);

// kuzu_check.js MODULE_DIR DB_DIR LOAD_CYPHER: loads a kuzu export into a new database with the
// real kuzu package (as README shows: every statement of load.cypher in one query call), then
// prints what kuzu holds as one JSON object: {"entities": [...], "relations": [...]}, each with
// every property, ordered by id. Any kuzu error: a message on stderr and exit 1.
"use strict";
const fs = require("fs");
const [moduleDir, dbDir, script] = process.argv.slice(2);
const kuzu = require(moduleDir + "/node_modules/kuzu");

async function rows(conn, q) {
	return (await conn.query(q)).getAll();
}

(async () => {
	const db = new kuzu.Database(dbDir);
	const conn = new kuzu.Connection(db);
	await conn.query(fs.readFileSync(script, "utf8"));
	const entities = await rows(conn, "MATCH (e:Entity) RETURN e.id AS id, e.name AS name, " +
		"e.type AS type, e.aliases AS aliases, e.descriptions AS descriptions, " +
		"e.weight AS weight, e.chunks AS chunks, e.sources AS sources ORDER BY id");
	const relations = await rows(conn, "MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN " +
		"a.id AS source, b.id AS target, r.id AS id, r.type AS type, " +
		"r.descriptions AS descriptions, r.weight AS weight, r.chunks AS chunks, " +
		"r.sources AS sources ORDER BY id");
	process.stdout.write(JSON.stringify({ entities, relations }) + "\n");
})().catch((e) => {
	process.stderr.write("kuzu_check.js: " + e.message + "\n");
	process.exit(1);
});

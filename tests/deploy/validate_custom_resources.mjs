// Validates custom resources against the JSON schemas that the @kubernetes-models packages compile
// from the operators' CRDs (KEDA, Prometheus Operator). Reads a JSON array of objects on stdin and
// prints one JSON result per object: {kind, name, schema: "checked" | "unknown", errors}.
// Offline: the packages come from the npm registry at install time (`npm ci --prefix tests/deploy`).
import { readFileSync } from "node:fs";

const PACKAGES = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

const objects = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const obj of objects) {
  const [group, version] = obj.apiVersion.split("/");
  const name = obj.metadata?.name;
  const pkg = PACKAGES[group];
  if (!pkg) {
    results.push({ kind: obj.kind, name, schema: "unknown", errors: [] });
    continue;
  }
  const module = await import(`${pkg}/${group}/${version}/${obj.kind}`);
  const Model = module[obj.kind];
  try {
    new Model(obj).validate();
    results.push({ kind: obj.kind, name, schema: "checked", errors: [] });
  } catch (err) {
    const details = (err.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? e.keyword}`);
    results.push({ kind: obj.kind, name, schema: "checked", errors: details.length ? details : [String(err)] });
  }
}
process.stdout.write(JSON.stringify(results));

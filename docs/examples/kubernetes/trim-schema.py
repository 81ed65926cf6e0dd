# Trims kubernetes-validate's Job schema (README.md) to one self-contained file: the Job schema with
# only the definitions it reaches, its references rewritten to `#/$defs/...`.
import json, sys
src = sys.argv[1]
job = json.load(open(f"{src}/job-batch-v1.json"))
defs = json.load(open(f"{src}/_definitions.json"))["$defs"]
PREFIX = "/api/_definitions.json#/$defs/"
LOCAL = "#/$defs/"
need, todo = set(), []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "$ref" and isinstance(v, str) and v.startswith((PREFIX, LOCAL)):
                name = v.split("/$defs/", 1)[1]
                x[k] = "#/$defs/" + name
                if name not in need:
                    need.add(name); todo.append(name)
            else:
                walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
walk(job)
out = {}
while todo:
    name = todo.pop()
    d = json.loads(json.dumps(defs[name]))
    walk(d)
    out[name] = d
job["$defs"] = dict(sorted(out.items()))
json.dump(job, sys.stdout, indent=1, sort_keys=False)
print()

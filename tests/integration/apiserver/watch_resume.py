"""python3-kubernetes against kedge-apiserver: list, watch, drop the connection, resume from the
last resourceVersion without missing or repeating events, and 410 for a version that is too old.
Usage: /usr/bin/python3 watch_resume.py KUBECONFIG WATCH_CACHE_SIZE. Exits 0 when all checks pass."""
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(sys.argv[1])
cache_size = int(sys.argv[2])
v1 = client.CoreV1Api()
NS = "py"


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


v1.create_namespace({"metadata": {"name": NS}})
for i in range(5):
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "pre%d" % i}, "data": {"i": str(i)}})
listed = v1.list_namespaced_config_map(NS)
check(len(listed.items) == 5, "list returns the 5 objects")
start_rv = listed.metadata.resource_version

# The writes the watchers must see, in order.
expected = []
for i in range(10):
    cm = v1.create_namespaced_config_map(NS, {"metadata": {"name": "a%d" % i}, "data": {"i": str(i)}})
    expected.append(("ADDED", "a%d" % i, cm.metadata.resource_version))

# Watch, take 4 events, then drop the connection.
seen = []
w = watch.Watch()
stream = w.stream(v1.list_namespaced_config_map, NS, resource_version=start_rv, timeout_seconds=10)
for ev in stream:
    seen.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version))
    if len(seen) == 4:
        break
stream.close()
w.stop()
last_rv = seen[-1][2]

# More writes while nobody watches: updates and deletes too.
for i in range(3):
    cm = v1.patch_namespaced_config_map("a%d" % i, NS, {"data": {"x": "y"}})
    expected.append(("MODIFIED", "a%d" % i, cm.metadata.resource_version))
st = v1.delete_namespaced_config_map("pre0", NS)
pre0_rv = None  # the delete's revision: read from the event below

# Resume from the last version seen.
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, NS, resource_version=last_rv, timeout_seconds=3):
    seen.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version))
    if len(seen) == len(expected) + 1:
        w.stop()
check(len(seen) == len(expected) + 1, "saw %d events, expected %d: %s" % (len(seen), len(expected) + 1, seen))
check(seen[:-1] == expected, "events in order without gaps: %s vs %s" % (seen, expected))
check(seen[-1][0] == "DELETED" and seen[-1][1] == "pre0", "delete event last: %s" % (seen[-1],))
rvs = [int(s[2]) for s in seen]
check(rvs == sorted(rvs) and len(set(rvs)) == len(rvs), "strictly increasing versions %s" % rvs)

# Label-selected watch from the start: only matching objects.
v1.create_namespaced_config_map(NS, {"metadata": {"name": "lab", "labels": {"k": "v"}}})
names = []
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, NS, label_selector="k=v", timeout_seconds=2):
    names.append(ev["object"].metadata.name)
check(names == ["lab"], "label-selected watch sees only lab: %s" % names)

# Push the watch window past start_rv: the server answers 410 (python raises after one retry).
for i in range(cache_size + 10):
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "z%d" % i}})
try:
    for ev in watch.Watch().stream(v1.list_namespaced_config_map, NS,
                                   resource_version=start_rv, timeout_seconds=3):
        check(False, "an event from an expired version: %s" % ev["type"])
    check(False, "no 410 for an expired version")
except ApiException as e:
    check(e.status == 410, "410 for an expired version, got %s" % e.status)

# Paginated list: every object once.
got, cont = [], None
while True:
    page = v1.list_namespaced_config_map(NS, limit=7, _continue=cont)
    got += [i.metadata.name for i in page.items]
    cont = page.metadata._continue
    if not cont:
        break
check(len(got) == len(set(got)) == len(v1.list_namespaced_config_map(NS).items), "pages")
print("OK")

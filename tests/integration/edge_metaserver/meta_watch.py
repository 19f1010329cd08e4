"""python3-kubernetes against the edge meta server: list every pod, then watch one namespace and
report each event; the test changes the store meanwhile. Usage:
/usr/bin/python3 meta_watch.py SERVER_URL EXPECTED_PODS. Prints one line per event
("EVENT <type> <name> <resourceVersion>") and "OK" once it saw "late" added, modified and
deleted; exits 1 on a failed check."""
import sys

from kubernetes import client, watch

cfg = client.Configuration()
cfg.host = sys.argv[1]
v1 = client.CoreV1Api(client.ApiClient(cfg))


def check(cond, what):
    if not cond:
        print("FAIL:", what, flush=True)
        sys.exit(1)


pods = v1.list_pod_for_all_namespaces()
names = sorted("%s/%s" % (p.metadata.namespace, p.metadata.name) for p in pods.items)
check(len(names) == int(sys.argv[2]), "listed %s" % names)
check(int(pods.metadata.resource_version) > 0, "list resourceVersion")
print("LIST", " ".join(names), flush=True)

web = v1.list_namespaced_pod("default", label_selector="app=web")
check([p.metadata.name for p in web.items] == ["web-1"], "label selector: %s" % web.items)

seen = []
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_pod, "default", timeout_seconds=60):
    obj = ev["object"]
    print("EVENT", ev["type"], obj.metadata.name, obj.metadata.resource_version, flush=True)
    seen.append((ev["type"], obj.metadata.name))
    if (ev["type"], obj.metadata.name) == ("DELETED", "late"):
        w.stop()
late = [t for (t, n) in seen if n == "late"]
check(late == ["ADDED", "MODIFIED", "DELETED"], "events of late: %s" % seen)
check(("ADDED", "web-1") in seen, "initial events: %s" % seen)
print("OK", flush=True)

"""After a kill -9 and restart: every acknowledged create is there with its resourceVersion, and a
new write gets a larger resourceVersion. Usage: verify_acks.py KUBECONFIG ACKS"""
import sys

from kubernetes import client, config

config.load_kube_config(sys.argv[1])
v1 = client.CoreV1Api()
acks = [l.split() for l in open(sys.argv[2]) if l.strip()]
items = {i.metadata.name: i.metadata.resource_version
         for i in v1.list_namespaced_config_map("default").items}
missing = [(n, rv) for n, rv in acks if items.get(n) != rv]
if missing:
    print("FAIL: lost or changed after restart:", missing[:10])
    sys.exit(1)
top = max(int(rv) for _, rv in acks)

# A watcher that saw the first acknowledged write resumes from its version after the restart
# and gets every later acknowledged write, in order, exactly once.
from kubernetes import watch
first_rv = acks[0][1]
want = [n for n, _ in acks[1:]]
got = []
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=first_rv,
                   timeout_seconds=5):
    got.append(ev["object"].metadata.name)
    if len(got) >= len(want):
        w.stop()
if got[:len(want)] != want:
    print("FAIL: resumed watch after restart saw", got[:10], "... expected", want[:10])
    sys.exit(1)
cm = v1.create_namespaced_config_map("default", {"metadata": {"name": "after-restart"}})
if int(cm.metadata.resource_version) <= top:
    print("FAIL: resourceVersion went backwards: %s <= %d" % (cm.metadata.resource_version, top))
    sys.exit(1)
print("OK %d acknowledged writes survived" % len(acks))

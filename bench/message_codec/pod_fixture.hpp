#pragma once
// (Copy of tests/unit/bus/pod_fixture.hpp so the benchmark builds without the tests.)
// A Go-shaped (compact, struct field order, HTML-escaped) Pod as upstream cloudcore sends it in
// a pod insert (PROTOCOL.md §12), about 2.5 KB.

#include <string_view>

namespace kedge::bus::test {

inline constexpr std::string_view kPodJson =
    R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"nginx","namespace":"default",)"
    R"("uid":"6f1c5a1e-3b8e-4a53-9c1e-2b7d9f0a4c11","resourceVersion":"184467",)"
    R"("creationTimestamp":"2024-03-01T10:15:30Z","labels":{"app":"nginx",)"
    R"("pod-template-hash":"7c5b6d8f9"},"annotations":{"kubectl.kubernetes.io/last-applied-configuration":)"
    R"("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{},\"name\":\"nginx\",\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"image\":\"localhost:5000/nginx:1.25\",\"name\":\"nginx\"}]}}\n",)"
    R"("note":"a \u003cb\u003etag\u003c/b\u003e \u0026 more \u2028 line"},)"
    R"("ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"nginx-7c5b6d8f9",)"
    R"("uid":"0d3c2b1a-9f8e-4d7c-8b6a-5f4e3d2c1b0a","controller":true,"blockOwnerDeletion":true}],)"
    R"("managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1",)"
    R"("time":"2024-03-01T10:15:30Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":)"
    R"({"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}},)"
    R"("f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},)"
    R"("f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},)"
    R"("f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},)"
    R"("f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},)"
    R"("f:terminationGracePeriodSeconds":{}}}}]},"spec":{"volumes":[{"name":"kube-api-access-x7k2p",)"
    R"("projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},)"
    R"({"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},)"
    R"({"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1",)"
    R"("fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}}],"containers":[{"name":"nginx",)"
    R"("image":"localhost:5000/nginx:1.25","ports":[{"containerPort":80,"protocol":"TCP"}],)"
    R"("env":[{"name":"GREETING","value":"héllo wörld ✓"},{"name":"RATIO","value":"0.75"}],)"
    R"("resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"100m",)"
    R"("memory":"64Mi"}},"volumeMounts":[{"name":"kube-api-access-x7k2p","readOnly":true,)"
    R"("mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],)"
    R"("terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File",)"
    R"("imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,)"
    R"("dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default",)"
    R"("nodeName":"edge1","securityContext":{},"schedulerName":"default-scheduler",)"
    R"("tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute",)"
    R"("tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists",)"
    R"("effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,)"
    R"("preemptionPolicy":"PreemptLowerPriority"},"status":{"phase":"Pending",)"
    R"("conditions":[{"type":"PodScheduled","status":"True","lastProbeTime":null,)"
    R"("lastTransitionTime":"2024-03-01T10:15:30Z"}],"qosClass":"Burstable","score":1e-7,)"
    R"("weight":1.5e+21,"ratio":0.000123}})";

}  // namespace kedge::bus::test

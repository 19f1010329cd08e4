#pragma once
// Protocol names shared by cloud and edge (PROTOCOL.md §1): operations, groups, module names and
// resource types, spelled exactly as upstream KubeEdge puts them on the wire.

#include <string_view>

namespace kedge::bus {

// Operations (route.operation).
inline constexpr std::string_view kOpInsert = "insert";
inline constexpr std::string_view kOpUpdate = "update";
inline constexpr std::string_view kOpDelete = "delete";
inline constexpr std::string_view kOpQuery = "query";
inline constexpr std::string_view kOpPatch = "patch";
inline constexpr std::string_view kOpUpload = "upload";
inline constexpr std::string_view kOpResponse = "response";
inline constexpr std::string_view kOpError = "error";
inline constexpr std::string_view kOpKeepalive = "keepalive";
inline constexpr std::string_view kOpConnect = "connect";
inline constexpr std::string_view kOpSubscribe = "subscribe";
inline constexpr std::string_view kOpUnsubscribe = "unsubscribe";
inline constexpr std::string_view kOpMessage = "message";
inline constexpr std::string_view kOpPublish = "publish";
inline constexpr std::string_view kOpGetResult = "get_result";
inline constexpr std::string_view kOpStart = "start";
inline constexpr std::string_view kOpStop = "stop";
inline constexpr std::string_view kOpList = "list";
inline constexpr std::string_view kOpDetail = "detail";
inline constexpr std::string_view kOpDelta = "delta";
inline constexpr std::string_view kOpDocument = "document";
inline constexpr std::string_view kOpUpdated = "updated";
inline constexpr std::string_view kOpDeleted = "deleted";
inline constexpr std::string_view kOpConnected = "connected";
inline constexpr std::string_view kOpDisconnected = "disconnected";
inline constexpr std::string_view kOpApplicationResponse = "applicationResponse";
inline constexpr std::string_view kOpUpdateNodeActionStatus = "UpdateNodeActionStatus";
inline constexpr std::string_view kOpUnholdUpgrade = "unhold-upgrade";
// Transport control operations: answered with content "ack" by the hub, never routed.
inline constexpr std::string_view kOpConfig = "config";
inline constexpr std::string_view kOpPing = "ping";
inline constexpr std::string_view kOpPong = "pong";

// Groups on the wire (route.group).
inline constexpr std::string_view kGroupResource = "resource";
inline constexpr std::string_view kGroupFunc = "func";
inline constexpr std::string_view kGroupTwin = "twin";
inline constexpr std::string_view kGroupUser = "user";
inline constexpr std::string_view kGroupTaskManager = "taskmanager";
inline constexpr std::string_view kGroupMeta = "meta";
inline constexpr std::string_view kGroupHub = "hub";
inline constexpr std::string_view kGroupBus = "bus";
inline constexpr std::string_view kGroupDynamicController = "dynamiccontroller";
inline constexpr std::string_view kGroupEdged = "edged";
inline constexpr std::string_view kGroupEdgeStream = "edgestream";

// Cloud modules (module name = group).
inline constexpr std::string_view kModuleCloudHub = "cloudhub";
inline constexpr std::string_view kModuleEdgeController = "edgecontroller";
inline constexpr std::string_view kModuleDeviceController = "devicecontroller";
inline constexpr std::string_view kModuleSyncController = "synccontroller";
inline constexpr std::string_view kModuleCloudStream = "cloudStream";
inline constexpr std::string_view kModuleRouter = "router";
inline constexpr std::string_view kModuleDynamicController = "dynamiccontroller";
inline constexpr std::string_view kModulePolicyController = "policycontroller";
inline constexpr std::string_view kModuleTaskManager = "taskmanager";

// Edge modules. The edge hub is module "websocket" in group "hub".
inline constexpr std::string_view kModuleEdgeHub = "websocket";
inline constexpr std::string_view kModuleMetaManager = "metamanager";
inline constexpr std::string_view kModuleEdged = "edged";
inline constexpr std::string_view kModuleEventBus = "eventbus";
inline constexpr std::string_view kModuleTwin = "twin";
inline constexpr std::string_view kModuleServiceBus = "servicebus";
inline constexpr std::string_view kModuleEdgeStream = "edgestream";
// Not a module: the source of upstream messages from the edge-local API server.
inline constexpr std::string_view kSourceMetaServer = "metaserver";
inline constexpr std::string_view kSourceRouterEventBus = "router_eventbus";
inline constexpr std::string_view kSourceRouterServiceBus = "router_servicebus";

// Resource types.
inline constexpr std::string_view kResPod = "pod";
inline constexpr std::string_view kResPodList = "podlist";
inline constexpr std::string_view kResPodStatus = "podstatus";
inline constexpr std::string_view kResPodPatch = "podpatch";
inline constexpr std::string_view kResNode = "node";
inline constexpr std::string_view kResNodeStatus = "nodestatus";
inline constexpr std::string_view kResNodePatch = "nodepatch";
inline constexpr std::string_view kResConfigMap = "configmap";
inline constexpr std::string_view kResSecret = "secret";
inline constexpr std::string_view kResServiceAccountToken = "serviceaccounttoken";
inline constexpr std::string_view kResEvent = "event";
inline constexpr std::string_view kResLease = "lease";
inline constexpr std::string_view kResService = "service";
inline constexpr std::string_view kResEndpoints = "endpoints";
inline constexpr std::string_view kResPersistentVolume = "persistentvolume";
inline constexpr std::string_view kResPersistentVolumeClaim = "persistentvolumeclaim";
inline constexpr std::string_view kResVolumeAttachment = "volumeattachment";
inline constexpr std::string_view kResRule = "rule";
inline constexpr std::string_view kResRuleEndpoint = "ruleendpoint";
inline constexpr std::string_view kResRuleStatus = "rulestatus";
inline constexpr std::string_view kResCertificateSigningRequest = "certificatesigningrequest";
inline constexpr std::string_view kResK8sCaCrt = "k8s/ca.crt";
inline constexpr std::string_view kResDevice = "device";
inline constexpr std::string_view kResDeviceModel = "devicemodel";
inline constexpr std::string_view kResDeviceMapper = "devicemapper";
inline constexpr std::string_view kResMembership = "membership";
inline constexpr std::string_view kResMembershipDetail = "membership/detail";
inline constexpr std::string_view kResTwin = "twin";
inline constexpr std::string_view kResTwinEdgeUpdated = "twin/edge_updated";
inline constexpr std::string_view kResTwinCloudUpdated = "twin/cloud_updated";
inline constexpr std::string_view kResStateUpdate = "state/update";

// Content of acks and keepalives.
inline constexpr std::string_view kContentOk = "OK";
inline constexpr std::string_view kContentPing = "ping";
inline constexpr std::string_view kContentAck = "ack";

// Messages the edge hub sends to modules when the cloud link changes.
inline constexpr std::string_view kCloudConnected = "cloud_connected";
inline constexpr std::string_view kCloudDisconnected = "cloud_disconnected";

// The namespace segment of cluster-scoped objects in resource strings.
inline constexpr std::string_view kClusterScopedNamespace = "null";

}  // namespace kedge::bus

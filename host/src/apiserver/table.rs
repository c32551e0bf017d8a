//! Server-side printing: the `meta.k8s.io/v1` `Table` kube-apiserver returns when kubectl
//! asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! kubectl renders whatever columns and cells the server sends, so `kubectl get` only
//! looks like it does against a real cluster if we reproduce kube-apiserver's column
//! definitions and cell formatting: the CRD convertor (`apiextensions-apiserver`
//! `tableconvertor`) for custom resources and `pkg/printers/internalversion` for built-in
//! kinds. Like kube-apiserver we always produce the "wide" cells and mark wide-only
//! columns with `priority: 1`; kubectl hides those unless `-o wide`.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::jsonpath::{self, JsonPath};

/// Errors a request can cause while asking for a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// `?includeObject=` had a value kube-apiserver rejects (it answers 400 Bad Request).
    #[error("includeObject: Invalid value: {0:?}: must be 'Metadata', 'Object', 'None', or empty")]
    InvalidIncludeObject(String),
}

/// `metav1.ObjectMeta` swagger text for `name`: kube uses it for every `Name` column.
pub const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// `metav1.ObjectMeta` swagger text for `creationTimestamp`: kube uses it for `Age` columns.
pub const CREATION_TIMESTAMP_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One `columnDefinitions[]` entry; the same shape as a CRD `additionalPrinterColumns[]`
/// item so CRD columns can be passed straight to [`custom_columns`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Column {
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date` (a CRD `date` becomes an age).
    pub type_: String,
    pub format: String,
    pub description: String,
    /// 0 = always shown, 1 = only with `kubectl get -o wide`.
    pub priority: i32,
    /// The CRD column's JSONPath; `None` for built-in kinds (they compute cells in Rust).
    pub json_path: Option<String>,
}

/// Computes one built-in cell from the (normalized) object and the request time.
pub type CellFn = fn(obj: &Value, now: OffsetDateTime) -> Value;

/// Where a column's cells come from.
#[derive(Debug, Clone)]
pub enum ColumnSource {
    /// A CRD printer column, evaluated with kube's CRD cell rules.
    JsonPath(JsonPath),
    /// A built-in printer function.
    Func(CellFn),
}

/// The columns of one kind plus how to compute their cells; build it once per kind.
#[derive(Debug, Clone)]
pub struct TableColumns {
    entries: Vec<(Column, ColumnSource)>,
    /// Maps an object to the shape the cell functions expect (events.k8s.io → core Event).
    normalize: Option<fn(&Value) -> Value>,
}

impl TableColumns {
    /// Columns from explicit sources, for kinds this module does not know.
    pub fn new(entries: Vec<(Column, ColumnSource)>) -> Self {
        Self {
            entries,
            normalize: None,
        }
    }

    /// The column definitions in table order.
    pub fn columns(&self) -> impl Iterator<Item = &Column> {
        self.entries.iter().map(|(c, _)| c)
    }
}

/// `?includeObject=` — what each row carries besides its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object at all.
    None,
    /// A `PartialObjectMetadata` (kubectl's default; it needs namespaces and labels).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter; absent or empty means `Metadata`, as in kube-apiserver.
    pub fn from_query(value: Option<&str>) -> Result<Self, TableError> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(Self::Metadata),
            "None" => Ok(Self::None),
            "Object" => Ok(Self::Object),
            other => Err(TableError::InvalidIncludeObject(other.to_string())),
        }
    }
}

/// Builds the `Table` for `objects` (one row each, in order). `list_meta` becomes the
/// table's `metadata` (`resourceVersion`, `continue`, `remainingItemCount`).
pub fn table(
    columns: &TableColumns,
    objects: &[Value],
    now: OffsetDateTime,
    include_object: IncludeObject,
    list_meta: Value,
) -> Value {
    let defs = columns.columns().map(|c| {
        json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
    });
    let defs: Vec<Value> = defs.collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| row(columns, obj, now, include_object))
        .collect();
    let metadata = if list_meta.is_object() {
        list_meta
    } else {
        json!({})
    };
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": defs, "rows": rows})
}

fn row(columns: &TableColumns, obj: &Value, now: OffsetDateTime, include: IncludeObject) -> Value {
    let view = columns
        .normalize
        .map_or(Cow::Borrowed(obj), |f| Cow::Owned(f(obj)));
    let cells = columns.entries.iter().map(|(col, src)| match src {
        ColumnSource::Func(f) => f(&view, now),
        ColumnSource::JsonPath(p) => crd_cell(&col.type_, p, &view, now),
    });
    let mut row = Map::new();
    row.insert("cells".into(), cells.collect());
    let object = match include {
        IncludeObject::None => return Value::Object(row),
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => {
            let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
        }
    };
    row.insert("object".into(), object);
    Value::Object(row)
}

/// kube's CRD cell rules: first match only; `string` columns print it like client-go;
/// other types keep JSON numbers/bools or become `null` on a type mismatch; `date`
/// becomes an age (`<invalid>` if unparsable, `<unknown>` if empty).
fn crd_cell(type_: &str, path: &JsonPath, obj: &Value, now: OffsetDateTime) -> Value {
    let first = match path.evaluate_refs(obj) {
        Ok(v) if !v.is_empty() => v[0],
        _ => return Value::Null,
    };
    match (type_, first) {
        ("string", v) => Value::String(jsonpath::print_value(v)),
        ("integer", Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).into(),
        ("number", Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::from(f as i64), // Go prints 3, not 3.0
            f => f.into(),
        },
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) if s.is_empty() || s == "null" => "<unknown>".into(),
        ("date", Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map_or_else(|_| "<invalid>".into(), |t| since(now, t))
            .into(),
        _ => Value::Null,
    }
}

/// The CRD table convertor's columns: `Name`, then the CRD's printer columns, or just an
/// `Age` column when it has none. Like kube, columns stop at the first one whose JSONPath
/// does not parse (CRD validation should already have rejected it).
pub fn custom_columns(mut cols: Vec<Column>) -> TableColumns {
    if cols.is_empty() {
        let json_path = Some(".metadata.creationTimestamp".into());
        cols.push(Column {
            type_: "date".into(),
            json_path,
            ..col(&AGE)
        });
    }
    let mut entries = builtin(&[NAME]).entries;
    for mut col in cols {
        let Some(Ok(path)) = col.json_path.as_deref().map(jsonpath::parse) else {
            break;
        };
        if col.description.is_empty() {
            col.description =
                format!("Custom resource definition column (in JSONPath format): {path}");
        }
        entries.push((col, ColumnSource::JsonPath(path)));
    }
    TableColumns::new(entries)
}

/// kube-apiserver's fallback for kinds without a printer: `Name` and `Created At`
/// (an RFC 3339 timestamp, not an age).
pub fn default_columns() -> TableColumns {
    let created_at: Spec = (
        "Created At",
        CREATION_TIMESTAMP_DESCRIPTION,
        0,
        created_at_cell,
    );
    let mut t = builtin(&[NAME, created_at]);
    t.entries[1].0.type_ = "date".into();
    t
}

/// The built-in printer for a kind, as `pkg/printers/internalversion` defines it, or `None`
/// (then use [`default_columns`]). `group` is `""` for the core group.
pub fn builtin_columns(group: &str, kind: &str) -> Option<TableColumns> {
    let specs = match (group, kind) {
        ("", "Secret") => SECRET,
        ("", "ConfigMap") => CONFIGMAP,
        ("", "Namespace") => NAMESPACE,
        ("", "Service") => SERVICE,
        ("", "Event") => EVENT,
        ("events.k8s.io", "Event") => {
            let mut t = builtin(EVENT);
            t.normalize = Some(events_v1_to_core);
            return Some(t);
        }
        ("networking.k8s.io", "Ingress") => INGRESS,
        ("coordination.k8s.io", "Lease") => LEASE,
        _ => return None,
    };
    Some(builtin(specs))
}

/// A built-in column: name, description, priority, cell function (type is always string).
type Spec = (&'static str, &'static str, i32, CellFn);
#[rustfmt::skip]
const NAME: Spec = ("Name", NAME_DESCRIPTION, 0, |o, _| str_at(o, "/metadata/name").into());
#[rustfmt::skip]
const AGE: Spec = ("Age", CREATION_TIMESTAMP_DESCRIPTION, 0, |o, now| age_of(o.pointer("/metadata/creationTimestamp"), now).into());
#[rustfmt::skip]
const SECRET: &[Spec] = &[NAME, ("Type", SECRET_TYPE, 0, secret_type), ("Data", SECRET_DATA, 0, secret_data), AGE];
const CONFIGMAP: &[Spec] = &[NAME, ("Data", CONFIGMAP_DATA, 0, configmap_data), AGE];
#[rustfmt::skip]
const NAMESPACE: &[Spec] = &[NAME, ("Status", "The status of the namespace", 0, namespace_status), AGE];
const LEASE: &[Spec] = &[NAME, ("Holder", LEASE_HOLDER, 0, lease_holder), AGE];
#[rustfmt::skip]
const SERVICE: &[Spec] = &[
    NAME,
    ("Type", SVC_TYPE, 0, |o, _| svc_type(o).into()),
    ("Cluster-IP", SVC_CLUSTER_IP, 0, svc_cluster_ip),
    ("External-IP", SVC_EXTERNAL_IPS, 0, svc_external_ip),
    ("Port(s)", SVC_PORTS, 0, svc_ports),
    AGE,
    ("Selector", SVC_SELECTOR, 1, svc_selector),
];
#[rustfmt::skip]
const EVENT: &[Spec] = &[
    ("Last Seen", EV_LAST, 0, ev_last_seen),
    ("Type", EV_TYPE, 0, |o, _| str_at(o, "/type").into()),
    ("Reason", EV_REASON, 0, |o, _| str_at(o, "/reason").into()),
    ("Object", EV_OBJECT, 0, ev_object),
    ("Subobject", EV_FIELD_PATH, 1, |o, _| str_at(o, "/involvedObject/fieldPath").into()),
    ("Source", EV_SOURCE, 1, ev_source),
    ("Message", EV_MESSAGE, 0, |o, _| str_at(o, "/message").trim().into()),
    ("First Seen", EV_FIRST, 1, |o, now| ev_first_seen(o, now).into()),
    ("Count", EV_COUNT, 1, ev_count),
    ("Name", NAME_DESCRIPTION, 1, NAME.3),
];
#[rustfmt::skip]
const INGRESS: &[Spec] = &[
    NAME,
    ("Class", ING_CLASS, 0, |o, _| or(str_at(o, "/spec/ingressClassName"), "<none>").into()),
    ("Hosts", ING_HOSTS, 0, ing_hosts),
    ("Address", ING_ADDRESS, 0, |o, _| lb_ingress(o).join(",").into()),
    ("Ports", ING_PORTS, 0, ing_ports),
    AGE,
];

fn col(&(name, description, priority, _): &Spec) -> Column {
    let format = if name == "Name" { "name" } else { "" }.into();
    let (name, type_, description) = (name.into(), "string".into(), description.into());
    Column {
        name,
        type_,
        format,
        description,
        priority,
        json_path: None,
    }
}

fn builtin(specs: &[Spec]) -> TableColumns {
    TableColumns::new(
        specs
            .iter()
            .map(|s| (col(s), ColumnSource::Func(s.3)))
            .collect(),
    )
}

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`: ~2-3 significant figures,
/// e.g. `90s`, `2m30s`, `15m`, `3h5m`, `20h`, `5d12h`, `30d`, `2y100d`, `9y`.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86400);
    let two = |a: u64, ua: &str, b: u64, ub: &str| match b {
        0 => format!("{a}{ua}"),
        _ => format!("{a}{ua}{b}{ub}"),
    };
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => two(m, "m", s % 60, "s"),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => two(h, "h", m % 60, "m"),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => two(days, "d", h % 24, "h"),
        _ if days < 365 * 2 => format!("{days}d"),
        _ if days < 365 * 8 => two(days / 365, "y", days % 365, "d"),
        _ => format!("{}y", days / 365),
    }
}

/// Age of `t` at `now`; up to ~2s in the future is clock skew (`0s`), more is `<invalid>`.
fn since(now: OffsetDateTime, t: OffsetDateTime) -> String {
    match now - t {
        d if d.whole_seconds() < -1 => "<invalid>".into(),
        d if d.is_negative() => "0s".into(),
        d => human_duration(d.unsigned_abs()),
    }
}

/// `translateTimestampSince`: age of an RFC 3339 timestamp, `<unknown>` when unset.
fn age_of(v: Option<&Value>, now: OffsetDateTime) -> String {
    parse_time(v).map_or_else(|| "<unknown>".into(), |t| since(now, t))
}

fn parse_time(v: Option<&Value>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v?.as_str()?, &Rfc3339).ok()
}

/// String at a JSON pointer, `""` when absent or not a string (Go's zero value).
fn str_at<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn or<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() { default } else { s }
}

fn len_at(o: &Value, key: &str) -> i64 {
    o.get(key)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len() as i64)
}

fn created_at_cell(o: &Value, _: OffsetDateTime) -> Value {
    let Some(t) = parse_time(o.pointer("/metadata/creationTimestamp")) else {
        return "0001-01-01T00:00:00Z".into(); // Go's zero time
    };
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default().into()
}

// Stored objects may lack fields kube's defaulting always sets (Secret type, Service type,
// port protocol, namespace phase); print the defaults so output matches a real cluster.
fn secret_type(o: &Value, _: OffsetDateTime) -> Value {
    or(str_at(o, "/type"), "Opaque").into()
}

fn secret_data(o: &Value, _: OffsetDateTime) -> Value {
    len_at(o, "data").into() // kube merges stringData into data on write
}

fn configmap_data(o: &Value, _: OffsetDateTime) -> Value {
    (len_at(o, "data") + len_at(o, "binaryData")).into()
}

fn namespace_status(o: &Value, _: OffsetDateTime) -> Value {
    or(str_at(o, "/status/phase"), "Active").into()
}

fn lease_holder(o: &Value, _: OffsetDateTime) -> Value {
    str_at(o, "/spec/holderIdentity").into()
}

fn svc_type(o: &Value) -> &str {
    or(str_at(o, "/spec/type"), "ClusterIP")
}

fn svc_cluster_ip(o: &Value, _: OffsetDateTime) -> Value {
    let first = o.pointer("/spec/clusterIPs/0").and_then(Value::as_str);
    or(
        first.unwrap_or_else(|| str_at(o, "/spec/clusterIP")),
        "<none>",
    )
    .into()
}

fn array<'a>(o: &'a Value, pointer: &str) -> &'a [Value] {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `loadBalancerStatusStringer` (wide): sorted, de-duplicated IPs, else hostnames.
fn lb_ingress(o: &Value) -> Vec<&str> {
    let hosts = array(o, "/status/loadBalancer/ingress").iter();
    let set: BTreeSet<&str> = hosts
        .map(|i| or(str_at(i, "/ip"), str_at(i, "/hostname")))
        .collect();
    set.into_iter().filter(|s| !s.is_empty()).collect()
}

fn svc_external_ip(o: &Value, _: OffsetDateTime) -> Value {
    let external: Vec<&str> = array(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match svc_type(o) {
        "ClusterIP" | "NodePort" => or(&external.join(","), "<none>").into(),
        "LoadBalancer" => or(&[lb_ingress(o), external].concat().join(","), "<pending>").into(),
        "ExternalName" => str_at(o, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

fn svc_ports(o: &Value, _: OffsetDateTime) -> Value {
    let pieces = array(o, "/spec/ports").iter().map(|p| {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        let proto = or(str_at(p, "/protocol"), "TCP");
        match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n > 0) {
            Some(node) => format!("{port}:{node}/{proto}"),
            None => format!("{port}/{proto}"),
        }
    });
    let pieces: Vec<String> = pieces.collect();
    or(&pieces.join(","), "<none>").into()
}

/// `labels.FormatLabels`: sorted `k=v` pairs or `<none>`.
fn svc_selector(o: &Value, _: OffsetDateTime) -> Value {
    let sel = o
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    let mut pairs: Vec<String> = sel
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    or(&pairs.join(","), "<none>").into()
}

/// `events.k8s.io/v1` fields renamed to their core/v1 names (kube stores both as one type).
fn events_v1_to_core(o: &Value) -> Value {
    let mut m = o.as_object().cloned().unwrap_or_default();
    for (from, to) in [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("reportingController", "reportingComponent"),
    ] {
        if let Some(v) = m.remove(from) {
            m.insert(to.into(), v);
        }
    }
    Value::Object(m)
}

fn ev_first_seen(o: &Value, now: OffsetDateTime) -> String {
    parse_time(o.get("firstTimestamp"))
        .map_or_else(|| age_of(o.get("eventTime"), now), |t| since(now, t))
}

fn ev_last_seen(o: &Value, now: OffsetDateTime) -> Value {
    if let Some(series) = o.get("series").filter(|s| s.is_object()) {
        return age_of(series.get("lastObservedTime"), now).into();
    }
    let last = parse_time(o.get("lastTimestamp"));
    last.map_or_else(|| ev_first_seen(o, now), |t| since(now, t))
        .into()
}

fn ev_count(o: &Value, _: OffsetDateTime) -> Value {
    if let Some(series) = o.get("series").filter(|s| s.is_object()) {
        return series
            .get("count")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .into();
    }
    // Singleton events don't set count in the new API.
    o.get("count")
        .and_then(Value::as_i64)
        .filter(|c| *c != 0)
        .unwrap_or(1)
        .into()
}

fn ev_object(o: &Value, _: OffsetDateTime) -> Value {
    let kind = str_at(o, "/involvedObject/kind").to_lowercase();
    match str_at(o, "/involvedObject/name") {
        "" => kind.into(),
        name => format!("{kind}/{name}").into(),
    }
}

fn ev_source(o: &Value, _: OffsetDateTime) -> Value {
    let component = or(
        str_at(o, "/source/component"),
        str_at(o, "/reportingComponent"),
    );
    match or(str_at(o, "/source/host"), str_at(o, "/reportingInstance")) {
        "" => component.into(),
        instance => format!("{component}, {instance}").into(),
    }
}

fn ing_ports(o: &Value, _: OffsetDateTime) -> Value {
    if array(o, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    }
    .into()
}

/// `formatHosts`: up to three hosts, `*` when none, then `+ N more...` (N counts all
/// remaining rules, with or without a host, as kube does).
fn ing_hosts(o: &Value, _: OffsetDateTime) -> Value {
    let rules = array(o, "/spec/rules");
    let mut list = Vec::new();
    for rule in rules {
        if list.len() == 3 {
            return format!("{} + {} more...", list.join(","), rules.len() - 3).into();
        }
        if let Some(host) = rule
            .get("host")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
        {
            list.push(host);
        }
    }
    if list.is_empty() {
        "*".into()
    } else {
        list.join(",").into()
    }
}

const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const CONFIGMAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const SVC_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
const SVC_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const SVC_EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
const SVC_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const SVC_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
const EV_LAST: &str = "The time at which the most recent occurrence of this event was recorded.";
const EV_TYPE: &str =
    "Type of this event (Normal, Warning), new types could be added in the future";
const EV_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
const EV_OBJECT: &str = "The object that this event is about.";
const EV_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
const EV_SOURCE: &str =
    "The component reporting this event. Should be a short machine understandable string.";
const EV_MESSAGE: &str = "A human-readable description of the status of this operation.";
const EV_FIRST: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
const EV_COUNT: &str = "The number of times this event has occurred.";
const ING_CLASS: &str =
    "The name of the IngressClass resource that should be used for additional configuration";
const ING_HOSTS: &str = "Hosts that incoming requests are matched against before the ingress rule";
const ING_ADDRESS: &str = "Address is a list containing ingress points for the load-balancer";
const ING_PORTS: &str = "Ports of TLS configurations that open";
const LEASE_HOLDER: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-06-10 12:00:00 UTC);

    /// Column names with priorities, e.g. `Name:0,Issuer:1`.
    fn heads(cols: &TableColumns) -> String {
        let v: Vec<_> = cols
            .columns()
            .map(|c| format!("{}:{}", c.name, c.priority))
            .collect();
        v.join(",")
    }

    /// The cells of the first row, as compact JSON.
    fn cells(cols: &TableColumns, objs: &[Value], row: usize) -> String {
        let t = table(cols, objs, NOW, IncludeObject::None, json!({}));
        t["rows"][row]["cells"].to_string()
    }

    fn row(cols: &TableColumns, obj: Value) -> String {
        cells(cols, &[obj], 0)
    }

    fn builtin(group: &str, kind: &str) -> TableColumns {
        builtin_columns(group, kind).unwrap()
    }

    /// A CRD printer column from `name|type|priority|jsonPath`.
    fn crd_col(spec: &str) -> Column {
        let f: Vec<&str> = spec.trim().splitn(4, '|').collect();
        let (name, type_, json_path) = (f[0].into(), f[1].into(), Some(f[3].into()));
        let priority = f[2].parse().unwrap();
        Column {
            name,
            type_,
            priority,
            json_path,
            ..Column::default()
        }
    }

    fn crd_cols(spec: &str) -> TableColumns {
        custom_columns(spec.trim().lines().map(crd_col).collect())
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        // seconds=want; a `d` suffix on the left means days.
        let cases = "0=0s 59=59s 119=119s 120=2m 150=2m30s 599=9m59s 600=10m 10799=179m \
            10800=3h 11100=3h5m 28800=8h 172799=47h 172800=2d 475200=5d12h 691200=8d \
            729d=729d 730d=2y 830d=2y100d 2920d=8y 7305d=20y";
        for case in cases.split_whitespace() {
            let (secs, want) = case.split_once('=').unwrap();
            let secs = match secs.strip_suffix('d') {
                Some(days) => days.parse::<u64>().unwrap() * 86400,
                None => secs.parse().unwrap(),
            };
            let got = human_duration(std::time::Duration::from_secs(secs));
            assert_eq!(got, want, "{case}");
        }
        assert_eq!(human_duration(std::time::Duration::from_millis(1999)), "1s");
        assert_eq!(since(NOW, NOW + time::Duration::seconds(1)), "0s");
        assert_eq!(since(NOW, NOW + time::Duration::seconds(5)), "<invalid>");
    }

    #[test]
    fn certificate_table() {
        // cert-manager's Certificate printer columns.
        let cols = crd_cols(
            r#"Ready|string|0|.status.conditions[?(@.type == "Ready")].status
            Secret|string|0|.spec.secretName
            Issuer|string|1|.spec.issuerRef.name
            Status|string|1|.status.conditions[?(@.type == "Ready")].message
            Age|date|0|.metadata.creationTimestamp"#,
        );
        let ready = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-06-05T00:00:00Z"},
            "spec": {"secretName": "web-tls", "issuerRef": {"name": "ca", "kind": "Issuer"}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "message": "Up to date"}]}});
        let fresh = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "new", "creationTimestamp": "2024-06-10T11:59:30Z"},
            "spec": {"secretName": "new-tls", "issuerRef": {"name": "ca"}}});
        let objs = [ready, fresh];
        let meta = json!({"resourceVersion": "42"});
        let t = table(&cols, &objs, NOW, IncludeObject::Metadata, meta.clone());
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], meta);
        let want = "Name:0,Ready:0,Secret:0,Issuer:1,Status:1,Age:0";
        assert_eq!(heads(&cols), want);
        let defs = &t["columnDefinitions"];
        let want = json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0});
        assert_eq!(defs[0], want);
        assert_eq!(defs[3]["priority"], 1);
        let want = "Custom resource definition column (in JSONPath format): .spec.secretName";
        assert_eq!(defs[2]["description"], want);
        assert_eq!(defs[5]["type"], "date");
        let want = r#"["web","True","web-tls","ca","Up to date","5d12h"]"#;
        assert_eq!(cells(&cols, &objs, 0), want);
        let want = r#"["new",null,"new-tls","ca",null,"30s"]"#;
        assert_eq!(cells(&cols, &objs, 1), want);
        let want = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-06-05T00:00:00Z"}});
        assert_eq!(t["rows"][0]["object"], want);
        let obj = json!({"kind": "Certificate"});
        let full = table(
            &cols,
            std::slice::from_ref(&obj),
            NOW,
            IncludeObject::Object,
            Value::Null,
        );
        assert_eq!(full["rows"][0]["object"], obj);
        assert_eq!(full["metadata"], json!({}));
        let none = table(&cols, &[obj], NOW, IncludeObject::None, json!({}));
        assert!(none["rows"][0].get("object").is_none());
        let empty = table(&cols, &[], NOW, IncludeObject::Metadata, json!({}));
        assert_eq!(empty["rows"], json!([]));
    }

    #[test]
    fn crd_cell_types_and_defaults() {
        let cols = crd_cols(
            "Int|integer|0|.a
            Num|number|0|.b
            Whole|number|0|.g
            Bool|boolean|0|.c
            NotBool|boolean|0|.a
            Str|string|0|.a
            Obj|string|0|.d
            Date|date|0|.e
            Many|string|0|.f[*]
            Missing|string|0|.z",
        );
        let obj = json!({"metadata": {"name": "x"}, "a": 3.7, "b": 2.5, "g": 4.0, "c": true,
                         "d": {"k": "v"}, "e": "yesterday", "f": ["first", "second"]});
        let want = r#"["x",3,2.5,4,true,null,"3.7","{\"k\":\"v\"}","<invalid>","first",null]"#;
        assert_eq!(row(&cols, obj), want);
        // No printer columns: Name and Age, like kube's serveDefaultColumnsIfEmpty.
        let cols = custom_columns(vec![]);
        assert_eq!(heads(&cols), "Name:0,Age:0");
        let age = cols.columns().nth(1).unwrap();
        assert_eq!(age.description, CREATION_TIMESTAMP_DESCRIPTION);
        let obj = json!({"metadata": {"name": "a", "creationTimestamp": "2024-06-10T11:00:00Z"}});
        assert_eq!(row(&cols, obj), r#"["a","60m"]"#);
        // An unparsable column truncates the list there, as kube's tableconvertor.New does.
        let cols = crd_cols("A|string|0|.a\nB|string|0|a[\nC|string|0|.c");
        assert_eq!(heads(&cols), "Name:0,A:0");
    }

    #[test]
    fn include_object_query() {
        let q = IncludeObject::from_query;
        assert_eq!(q(None), Ok(IncludeObject::Metadata));
        assert_eq!(q(Some("")), Ok(IncludeObject::Metadata));
        assert_eq!(q(Some("Object")), Ok(IncludeObject::Object));
        assert_eq!(q(Some("None")), Ok(IncludeObject::None));
        let want = r#"includeObject: Invalid value: "all": must be 'Metadata', 'Object', 'None', or empty"#;
        assert_eq!(q(Some("all")).unwrap_err().to_string(), want);
    }

    #[test]
    fn secret_configmap_namespace_lease_rows() {
        let secret = builtin("", "Secret");
        assert_eq!(heads(&secret), "Name:0,Type:0,Data:0,Age:0");
        let obj = json!({"metadata": {"name": "web-tls", "creationTimestamp": "2024-06-10T09:00:00Z"},
                         "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": "", "ca.crt": ""}});
        assert_eq!(
            row(&secret, obj),
            r#"["web-tls","kubernetes.io/tls",3,"3h"]"#
        );
        let obj = json!({"metadata": {"name": "s"}});
        assert_eq!(row(&secret, obj), r#"["s","Opaque",0,"<unknown>"]"#);
        let obj = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": ""}});
        assert_eq!(
            row(&builtin("", "ConfigMap"), obj),
            r#"["c",2,"<unknown>"]"#
        );
        let obj = json!({"metadata": {"name": "n"}, "status": {"phase": "Terminating"}});
        let want = r#"["n","Terminating","<unknown>"]"#;
        assert_eq!(row(&builtin("", "Namespace"), obj), want);
        let obj = json!({"metadata": {"name": "cm", "creationTimestamp": "2024-06-10T11:58:00Z"},
                         "spec": {"holderIdentity": "pod-1_abc"}});
        let lease = builtin("coordination.k8s.io", "Lease");
        assert_eq!(row(&lease, obj), r#"["cm","pod-1_abc","2m"]"#);
        assert!(builtin_columns("cert-manager.io", "Certificate").is_none());
    }

    #[test]
    fn service_rows() {
        let svc = builtin("", "Service");
        let want = "Name:0,Type:0,Cluster-IP:0,External-IP:0,Port(s):0,Age:0,Selector:1";
        assert_eq!(heads(&svc), want);
        let obj = json!({"metadata": {"name": "webhook", "creationTimestamp": "2024-06-10T11:00:00Z"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"],
                     "ports": [{"port": 443, "protocol": "TCP"}, {"port": 9402}],
                     "selector": {"app": "wh", "a": "b"}}});
        let want =
            r#"["webhook","ClusterIP","10.0.0.5","<none>","443/TCP,9402/TCP","60m","a=b,app=wh"]"#;
        assert_eq!(row(&svc, obj), want);
        let obj = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer",
            "clusterIPs": ["10.0.0.6"], "externalIPs": ["1.2.3.4"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}}});
        let want = r#"["lb","LoadBalancer","10.0.0.6","5.6.7.8,lb.example.com,1.2.3.4","80:30080/UDP","<unknown>","<none>"]"#;
        assert_eq!(row(&svc, obj), want);
        let obj = json!({"metadata": {"name": "p"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.7"}});
        let want = r#"["p","LoadBalancer","10.0.0.7","<pending>","<none>","<unknown>","<none>"]"#;
        assert_eq!(row(&svc, obj), want);
        let obj = json!({"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "x.io"}});
        let want = r#"["e","ExternalName","<none>","x.io","<none>","<unknown>","<none>"]"#;
        assert_eq!(row(&svc, obj), want);
    }

    #[test]
    fn event_rows_core_and_events_v1() {
        let core = builtin("", "Event");
        let want = "Last Seen:0,Type:0,Reason:0,Object:0,Subobject:1,Source:1,Message:0,\
                    First Seen:1,Count:1,Name:1";
        assert_eq!(heads(&core), want);
        assert_eq!(core.columns().last().unwrap().format, "name");
        let ev = json!({"metadata": {"name": "web.17d"}, "involvedObject": {"kind": "Certificate", "name": "web"},
            "reason": "Issuing", "message": "Issued certificate \n", "type": "Normal",
            "source": {"component": "cert-manager-certificates-issuing"},
            "firstTimestamp": "2024-06-10T11:00:00Z", "lastTimestamp": "2024-06-10T11:55:00Z", "count": 3});
        let want = r#"["5m","Normal","Issuing","certificate/web","","cert-manager-certificates-issuing","Issued certificate","60m",3,"web.17d"]"#;
        assert_eq!(row(&core, ev), want);
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
            "regarding": {"kind": "Order", "name": "web-1"}, "note": "Created Order", "type": "Warning",
            "reason": "OrderCreated", "reportingController": "cert-manager", "reportingInstance": "pod-1",
            "eventTime": "2024-06-10T11:59:00.123456Z"});
        let want = r#"["59s","Warning","OrderCreated","order/web-1","","cert-manager, pod-1","Created Order","59s",1,"e2"]"#;
        assert_eq!(row(&builtin("events.k8s.io", "Event"), ev), want);
        let ev = json!({"metadata": {"name": "s"}, "involvedObject": {"kind": "Node"},
            "eventTime": "2024-06-10T10:00:00Z",
            "series": {"count": 7, "lastObservedTime": "2024-06-10T11:59:50Z"}});
        assert_eq!(
            row(&core, ev),
            r#"["10s","","","node","","","","120m",7,"s"]"#
        );
    }

    #[test]
    fn ingress_rows() {
        let ing = builtin("networking.k8s.io", "Ingress");
        assert_eq!(
            heads(&ing),
            "Name:0,Class:0,Hosts:0,Address:0,Ports:0,Age:0"
        );
        let obj = json!({"metadata": {"name": "cm-acme-http-solver-x", "creationTimestamp": "2024-06-10T11:59:00Z"},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
                     "tls": [{"hosts": ["a.example.com"]}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.1.1.1"}]}}});
        let want = r#"["cm-acme-http-solver-x","nginx","a.example.com,b.example.com","10.1.1.1","80, 443","60s"]"#;
        assert_eq!(row(&ing, obj), want);
        let obj = json!({"metadata": {"name": "i"}, "spec": {"rules": [{"http": {}}]}});
        assert_eq!(row(&ing, obj), r#"["i","<none>","*","","80","<unknown>"]"#);
        let obj = json!({"metadata": {"name": "m"}, "spec": {"rules": [
            {"host": "a"}, {"host": "b"}, {"host": "c"}, {"host": "d"}, {"http": {}}]}});
        let want = r#"["m","<none>","a,b,c + 2 more...","","80","<unknown>"]"#;
        assert_eq!(row(&ing, obj), want);
    }

    #[test]
    fn default_table() {
        let cols = default_columns();
        assert_eq!(heads(&cols), "Name:0,Created At:0");
        let obj =
            json!({"metadata": {"name": "x", "creationTimestamp": "2024-06-10T11:00:00.5+02:00"}});
        assert_eq!(row(&cols, obj), r#"["x","2024-06-10T09:00:00Z"]"#);
        assert_eq!(row(&cols, json!({})), r#"["","0001-01-01T00:00:00Z"]"#);
    }
}

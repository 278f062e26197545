/// Request paths served by vigild's control socket.
public enum APIPath {
  /// `GET`: the daemon's ``StatusResponse``.
  public static let status = "/v1/status"
  /// `GET`: a ``TargetList``; `POST`: add a target from a ``TargetRequest``.
  public static let targets = "/v1/targets"
  /// `GET`: blocking events as NDJSON; see ``EventQuery``.
  public static let events = "/v1/events"
  /// `GET`: the enforced ``PolicyStatusResponse``; `POST`: apply a ``PolicyRequest``.
  public static let policy = "/v1/policy"
  /// `POST`: check a ``PolicyRequest`` without applying it.
  public static let policyValidate = "/v1/policy/validate"
  /// `POST`: what applying a ``PolicyRequest`` would change.
  public static let policyDiff = "/v1/policy/diff"
  /// `POST`: enforce a stored generation again (``PolicyRollbackRequest``).
  public static let policyRollback = "/v1/policy/rollback"
  /// `GET`: the enforced generation's counters (``PolicyStatsResponse``).
  public static let policyStats = "/v1/policy/stats"
  /// `GET ?pid=N`: a fresh snapshot of a Go process's goroutines, grouped
  /// (``GoroutinesResponse``).
  public static let goroutines = "/v1/goroutines"
  /// `GET ?pid=N`: the same snapshot as a pprof goroutine profile (protobuf).
  public static let goroutinesPprof = "/v1/goroutines/pprof"
  /// `POST ?pid=N&seconds=S`: a trace session, every goroutine status change for S seconds (at
  /// most 10) by a uprobe on `runtime.casgstatus` (``GoroutineTraceResponse``). Slows the
  /// target while it runs.
  public static let goroutinesTrace = "/v1/goroutines/trace"
  /// `GET [?pid=N]`: suspected goroutine leaks of watched Go processes (``LeaksResponse``).
  public static let leaks = "/v1/leaks"
  /// `GET`: Prometheus text exposition.
  public static let metrics = "/metrics"

  /// `DELETE`: the path of one target.
  public static func target(id: Int) -> String {
    "\(targets)/\(id)"
  }

  /// The id in a `/v1/targets/{id}` path, or nil if `path` is not of that form.
  public static func targetID(in path: String) -> Int? {
    let prefix = targets + "/"
    guard path.hasPrefix(prefix) else { return nil }
    return Int(path.dropFirst(prefix.count))
  }
}

/// Content types used on the control socket.
public enum MediaType {
  /// JSON request and response bodies.
  public static let json = "application/json"
  /// Newline-delimited JSON: one ``BlockingEventJSON`` per line.
  public static let ndjson = "application/x-ndjson"
  /// Prometheus text exposition format 0.0.4.
  public static let prometheus = "text/plain; version=0.0.4; charset=utf-8"
}

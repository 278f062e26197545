import AgentConfig
import ControlAPI
import ControlHTTP
import Foundation
import GoProcess
import Policy

/// Serves the control API from the daemon's state.
public struct ControlRoutes: Sendable {
  let registry: TargetRegistry
  let hub: EventHub
  let status: @Sendable () -> StatusResponse
  let metrics: @Sendable () -> String
  /// The group allowed to mutate (besides root); nil when it does not exist.
  let socketGroup: @Sendable () -> UInt32?
  /// Network policy; nil when the daemon runs without it (unit tests).
  var policy: PolicyService? = nil
  /// Goroutine snapshots and leaks; nil when the daemon runs without them (unit tests).
  var goroutines: GoroutineWatcher? = nil

  /// Answers one request.
  public func handle(_ request: HTTPRequest) -> HTTPResponse {
    let mutating = request.method == "POST" || request.method == "DELETE"
    if mutating && !authorized(request.peer) {
      return error(
        403,
        ErrorResponse(
          "uid \(request.peer.uid) may not change vigild: only root or members of the socket's group may"
        ))
    }
    switch (request.method, request.path) {
    case ("GET", APIPath.status): return json(200, status())
    case ("GET", APIPath.targets):
      return json(200, TargetList(targets: registry.targets.map(Self.info)))
    case ("POST", APIPath.targets): return addTarget(request.body)
    case ("DELETE", _) where APIPath.targetID(in: request.path) != nil:
      return removeTarget(APIPath.targetID(in: request.path)!)
    case ("GET", APIPath.events): return events(request.query)
    case (_, APIPath.policy), (_, APIPath.policyValidate), (_, APIPath.policyDiff),
      (_, APIPath.policyRollback), (_, APIPath.policyStats):
      return policyRoute(request)
    case ("GET", APIPath.goroutines), ("GET", APIPath.goroutinesPprof), ("GET", APIPath.leaks),
      ("POST", APIPath.goroutinesTrace):
      return goroutineRoute(request)
    case ("GET", APIPath.metrics):
      return .full(status: 200, contentType: MediaType.prometheus, body: Array(metrics().utf8))
    case (_, APIPath.status), (_, APIPath.targets), (_, APIPath.events), (_, APIPath.metrics):
      return error(405, ErrorResponse("\(request.method) is not allowed on \(request.path)"))
    default:
      return error(404, ErrorResponse("no such endpoint: \(request.method) \(request.path)"))
    }
  }

  private func authorized(_ peer: PeerCredentials) -> Bool {
    guard let group = socketGroup() else { return peer.uid == 0 }
    return peer.allowsMutation(socketGroup: group)
  }

  private func addTarget(_ body: [UInt8]) -> HTTPResponse {
    do {
      let request = try WireJSON.decode(TargetRequest.self, from: body)
      let spec: TargetSpec =
        switch try request.selector() {
        case .pid(let pid): .pid(pid)
        case .executable(let name): .executable(name)
        case .cgroup(let path): .cgroup(path)
        }
      return json(201, Self.info(try registry.add(spec, source: .api)))
    } catch let failure as ErrorResponse {
      return error(400, failure)
    } catch let failure as TargetError {
      return error(
        failure.kind == .notFound ? 404 : 422, ErrorResponse(failure.message, field: failure.field))
    } catch {
      return self.error(400, ErrorResponse("request body is not a target: \(error)"))
    }
  }

  private func removeTarget(_ id: Int) -> HTTPResponse {
    do {
      try registry.remove(id: id)
      return .empty(status: 204)
    } catch {
      return self.error(404, ErrorResponse(error.message, field: error.field))
    }
  }

  private func events(_ query: [String: String]) -> HTTPResponse {
    let parsed: EventQuery
    do { parsed = try EventQuery(query: query) } catch { return self.error(400, error) }
    let filter = EventHub.Filter(
      pid: parsed.pid, kind: parsed.kind?.rawValue,
      minDurationNanoseconds: parsed.minDurationNs ?? 0)
    let recent = hub.recent(filter, limit: parsed.limit ?? (parsed.follow ? 0 : 1000))
    guard parsed.follow else {
      let body = recent.map { $0 + "\n" }.joined()
      return .full(status: 200, contentType: MediaType.ndjson, body: Array(body.utf8))
    }
    let hub = self.hub
    return .stream(status: 200, contentType: MediaType.ndjson) { writer in
      let subscription = hub.subscribe(filter)
      defer { hub.unsubscribe(subscription) }
      for line in recent where !writer.write(line + "\n") { return }
      while let lines = subscription.next(timeout: 1) {
        if lines.isEmpty {
          if !writer.isConnected { return }
          continue
        }
        if !writer.write(lines.map { $0 + "\n" }.joined()) { return }
      }
    }
  }

  /// The policy files of a `multipart/form-data` body (`curl -F policy=@web.yaml`), each named by
  /// its file name (else its field name).
  private static func policySources(form body: [UInt8], boundary: String)
    throws(PolicyServiceError) -> [PolicySource]
  {
    let parts: [FormPart]
    do {
      parts = try MultipartForm.parts(of: body, boundary: boundary)
    } catch {
      throw PolicyServiceError(400, "request body is not multipart/form-data: \(error)")
    }
    var sources: [PolicySource] = []
    for part in parts {
      let source = part.filename ?? part.name
      guard let yaml = String(validating: part.content, as: UTF8.self) else {
        throw PolicyServiceError(PolicyError(source: source, reason: "is not UTF-8 text"))
      }
      sources.append(PolicySource(source: source, yaml: yaml))
    }
    return sources
  }

  private func policyRoute(_ request: HTTPRequest) -> HTTPResponse {
    guard let policy else { return error(503, ErrorResponse("network policy is not enabled")) }
    func sources() throws(PolicyServiceError) -> [PolicySource] {
      if let boundary = MultipartForm.boundary(contentType: request.headers["content-type"]) {
        return try Self.policySources(form: request.body, boundary: boundary)
      }
      do {
        return try PolicyJSON.decodeRequest(request.body).sources
      } catch {
        throw PolicyServiceError(
          400,
          "request body is not a policy request ({\"sources\": [{\"source\", \"yaml\"}]} or multipart/form-data files): \(error)"
        )
      }
    }
    do {
      switch (request.method, request.path) {
      case ("GET", APIPath.policy): return json(200, policy.status())
      case ("POST", APIPath.policy): return json(200, try policy.apply(try sources()))
      case ("POST", APIPath.policyValidate): return json(200, try policy.validate(try sources()))
      case ("POST", APIPath.policyDiff): return json(200, try policy.diff(try sources()))
      case ("POST", APIPath.policyRollback):
        let rollback: PolicyRollbackRequest
        do {
          rollback =
            request.body.isEmpty
            ? PolicyRollbackRequest()
            : try WireJSON.decode(PolicyRollbackRequest.self, from: request.body)
        } catch {
          throw PolicyServiceError(400, "request body is not {\"to\": GENERATION}: \(error)")
        }
        return json(200, try policy.rollback(to: rollback.to))
      case ("GET", APIPath.policyStats): return json(200, try policy.stats())
      default:
        return error(405, ErrorResponse("\(request.method) is not allowed on \(request.path)"))
      }
    } catch let failure as PolicyServiceError {
      return error(failure.status, failure.response)
    } catch {
      return self.error(500, ErrorResponse("\(error)"))
    }
  }

  private func goroutineRoute(_ request: HTTPRequest) -> HTTPResponse {
    guard let goroutines else {
      return error(503, ErrorResponse("goroutine inspection is not enabled"))
    }
    var pid: Int32?
    if let text = request.query["pid"] {
      guard let value = Int32(text), value > 0 else {
        return error(400, ErrorResponse("pid \"\(text)\" is not a process id", field: "pid"))
      }
      pid = value
    }
    if request.path == APIPath.leaks {
      return json(200, LeaksResponse(leaks: goroutines.leaks(pid: pid)))
    }
    guard let pid else { return error(400, ErrorResponse("pid is required", field: "pid")) }
    if request.path == APIPath.goroutinesTrace {
      return traceRoute(goroutines, pid: pid, seconds: request.query["seconds"])
    }
    do {
      if request.path == APIPath.goroutinesPprof {
        return .full(
          status: 200, contentType: "application/octet-stream", body: try goroutines.pprof(pid: pid)
        )
      }
      return json(200, try goroutines.goroutines(pid: pid))
    } catch {
      return processError(error)
    }
  }

  private func traceRoute(_ goroutines: GoroutineWatcher, pid: Int32, seconds text: String?)
    -> HTTPResponse
  {
    let limit = GoroutineWatcher.maxTraceSeconds
    guard let text, let seconds = Double(text), seconds > 0, seconds <= limit else {
      return error(
        400,
        ErrorResponse(
          "seconds \"\(text ?? "")\" must be a number of seconds above 0, at most \(limit)",
          field: "seconds"))
    }
    do {
      return json(200, try goroutines.trace(pid: pid, seconds: seconds))
    } catch {
      switch error {
      case .process(let failure): return processError(failure)
      case .probe(let failure):
        return self.error(500, ErrorResponse("trace session failed: \(failure.description)"))
      }
    }
  }

  private func processError(_ error: GoProcessError) -> HTTPResponse {
    let status =
      switch error {
      case .processExited, .processReplaced: 404
      case .notGo: 422
      default: 500
      }
    return self.error(status, ErrorResponse(error.description, field: "pid"))
  }

  private func json<T: Encodable>(_ status: Int, _ value: T) -> HTTPResponse {
    let body = (try? WireJSON.encode(value)) ?? Array("{}".utf8)
    return .full(status: status, contentType: MediaType.json, body: body + [UInt8(ascii: "\n")])
  }

  private func error(_ status: Int, _ response: ErrorResponse) -> HTTPResponse {
    json(status, response)
  }

  static func info(_ target: Target) -> TargetInfo {
    let kind: TargetKind =
      switch target.spec {
      case .pid: .pid
      case .executable: .executable
      case .cgroup: .cgroup
      }
    let seconds = target.addedAt.timeIntervalSince1970
    return TargetInfo(
      id: target.id, kind: kind, value: target.spec.value,
      pids: target.processes.map(\.pid).sorted(),
      addedAt: RFC3339.format(seconds: Int64(seconds), fractionDigits: 0),
      source: target.source.rawValue)
  }
}

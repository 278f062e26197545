/// One policy file as sent to vigild: its name (for error messages) and its YAML text.
public struct PolicySource: Codable, Sendable, Equatable {
  /// Where the text came from, such as `web.yaml`.
  public var source: String
  /// The YAML text: one or more `---`-separated NetworkPolicy documents.
  public var yaml: String

  public init(source: String, yaml: String) {
    self.source = source
    self.yaml = yaml
  }
}

/// The body of `POST /v1/policy`, `/v1/policy/validate` and `/v1/policy/diff`: the complete set
/// of policies wanted (policies not in it are removed by an apply).
public struct PolicyRequest: Codable, Sendable, Equatable {
  public var sources: [PolicySource]

  public init(sources: [PolicySource]) { self.sources = sources }
}

/// The body of `POST /v1/policy/rollback`.
public struct PolicyRollbackRequest: Codable, Sendable, Equatable {
  /// The stored generation whose policies to enforce again; nil for the one before the current.
  public var to: UInt64?

  public init(to: UInt64? = nil) { self.to = to }
}

/// How long an apply took, in milliseconds.
public struct PolicyTiming: Codable, Sendable, Equatable {
  /// Parsing, validating and compiling the documents.
  public var compileMs: Double
  /// Attaching to endpoints new in this generation.
  public var attachMs: Double
  /// Waiting for the spare slot when the previous apply had not finished preparing it.
  public var slotMs: Double
  /// Filling the generation's maps.
  public var fillMs: Double
  /// Waiting after the fill until the generation was stored (it is written while the maps fill);
  /// nil from daemons that store it first.
  public var storeWaitMs: Double?
  /// The flip itself, in microseconds.
  public var flipUs: Double
  /// From the request to the flip.
  public var totalMs: Double
  /// When the flip was done, in the node's `CLOCK_MONOTONIC` nanoseconds (to line up with other
  /// timings on the node); nil from older daemons.
  public var flippedAtNs: UInt64?

  public init(
    compileMs: Double, attachMs: Double, slotMs: Double, fillMs: Double,
    storeWaitMs: Double? = nil, flipUs: Double, totalMs: Double, flippedAtNs: UInt64? = nil
  ) {
    self.compileMs = compileMs
    self.attachMs = attachMs
    self.slotMs = slotMs
    self.fillMs = fillMs
    self.storeWaitMs = storeWaitMs
    self.flipUs = flipUs
    self.totalMs = totalMs
    self.flippedAtNs = flippedAtNs
  }
}

/// The answer to an apply or a rollback.
public struct PolicyApplyResponse: Codable, Sendable, Equatable {
  /// The generation now enforced.
  public var generation: UInt64
  /// The generation it replaced; nil when none was enforced.
  public var previousGeneration: UInt64?
  /// What changed, one line per policy (`changed "web": spec.mode: enforce → audit`).
  public var changes: [String]
  public var timing: PolicyTiming

  public init(
    generation: UInt64, previousGeneration: UInt64?, changes: [String], timing: PolicyTiming
  ) {
    self.generation = generation
    self.previousGeneration = previousGeneration
    self.changes = changes
    self.timing = timing
  }
}

/// The answer to validate: what the policies would need.
public struct PolicyValidateResponse: Codable, Sendable, Equatable {
  /// Policy names, sorted.
  public var policies: [String]
  /// LPM entries, counters and endpoints the generation would use, and the capacity.
  public var entries: Int
  public var counters: Int
  public var endpoints: Int
  public var capacity: PolicyCapacityInfo

  public init(
    policies: [String], entries: Int, counters: Int, endpoints: Int, capacity: PolicyCapacityInfo
  ) {
    self.policies = policies
    self.entries = entries
    self.counters = counters
    self.endpoints = endpoints
    self.capacity = capacity
  }
}

/// The configured limits of one generation (`policy.capacity`).
public struct PolicyCapacityInfo: Codable, Sendable, Equatable {
  public var entries: Int
  public var counters: Int
  public var endpoints: Int

  public init(entries: Int, counters: Int, endpoints: Int) {
    self.entries = entries
    self.counters = counters
    self.endpoints = endpoints
  }
}

/// The answer to diff: what an apply of the request would change.
public struct PolicyDiffResponse: Codable, Sendable, Equatable {
  /// The generation compared against; nil when none is enforced.
  public var generation: UInt64?
  public var changes: [String]

  public init(generation: UInt64?, changes: [String]) {
    self.generation = generation
    self.changes = changes
  }
}

/// One policy of the enforced generation.
public struct PolicySummary: Codable, Sendable, Equatable {
  public var name: String
  /// `eth0`, `eth0@web` or a cgroup path.
  public var endpoint: String
  /// `enforce` or `audit`.
  public var mode: String
  /// For example `eth0@web, enforce, Ingress+Egress, 2 ingress rules`.
  public var summary: String

  public init(name: String, endpoint: String, mode: String, summary: String) {
    self.name = name
    self.endpoint = endpoint
    self.mode = mode
    self.summary = summary
  }
}

/// The answer to `GET /v1/policy`.
public struct PolicyStatusResponse: Codable, Sendable, Equatable {
  /// The generation the datapath enforces; nil when none.
  public var generation: UInt64?
  /// When it was applied (RFC 3339).
  public var appliedAt: String?
  /// How it came to be: `apply`, `rollback to N`, or `restore`.
  public var origin: String?
  public var policies: [PolicySummary]
  /// The YAML it was applied from.
  public var sources: [PolicySource]
  /// Stored generations, oldest first (rollback targets).
  public var storedGenerations: [UInt64]

  public init(
    generation: UInt64?, appliedAt: String?, origin: String?, policies: [PolicySummary],
    sources: [PolicySource], storedGenerations: [UInt64]
  ) {
    self.generation = generation
    self.appliedAt = appliedAt
    self.origin = origin
    self.policies = policies
    self.sources = sources
    self.storedGenerations = storedGenerations
  }
}

/// One counter of the enforced generation.
public struct PolicyCounter: Codable, Sendable, Equatable {
  /// The rule's policy; nil for an endpoint direction's default verdict.
  public var policy: String?
  public var endpoint: String
  /// `ingress` or `egress`.
  public var direction: String
  /// `allow`, `deny` or `default`.
  public var kind: String
  /// `ingress[0]`, `egressDeny[1]`; nil for a default.
  public var rule: String?
  /// The default's verdict (`allow` or `deny`); nil for a rule.
  public var verdict: String?
  public var packets: UInt64
  public var bytes: UInt64

  public init(
    policy: String?, endpoint: String, direction: String, kind: String, rule: String?,
    verdict: String?, packets: UInt64, bytes: UInt64
  ) {
    self.policy = policy
    self.endpoint = endpoint
    self.direction = direction
    self.kind = kind
    self.rule = rule
    self.verdict = verdict
    self.packets = packets
    self.bytes = bytes
  }
}

/// The answer to `GET /v1/policy/stats`.
public struct PolicyStatsResponse: Codable, Sendable, Equatable {
  public var generation: UInt64?
  public var counters: [PolicyCounter]

  public init(generation: UInt64?, counters: [PolicyCounter]) {
    self.generation = generation
    self.counters = counters
  }
}

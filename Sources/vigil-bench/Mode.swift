/// What runs alongside the ping-pong in one window.
enum Mode: String, Codable, Sendable, CaseIterable {
  /// No tracer at all (no BPF programs of vigild or offcputime attached).
  case untraced
  /// vigild running on its embedded default, probes attached, the ping-pong not a target.
  case vigildUntargeted = "vigild-untargeted"
  /// vigild targeting the ping-pong with its default 10 ms thresholds (stacks for reported episodes).
  case vigildDefault = "vigild-10ms"
  /// vigild targeting the ping-pong with zero thresholds: every episode is an event with a stack.
  case vigildZero = "vigild-0"
  /// libbpf-tools `offcputime -p PID`.
  case offcputime

  /// The row label in the report.
  var label: String {
    switch self {
    case .untraced: "no tracer"
    case .vigildUntargeted: "vigild running, ping-pong not targeted"
    case .vigildDefault: "vigild, 10 ms thresholds (default)"
    case .vigildZero: "vigild, zero thresholds"
    case .offcputime: "libbpf-tools offcputime -p PID"
    }
  }

  /// Whether vigild runs during the window.
  var runsVigild: Bool { self != .untraced && self != .offcputime }

  /// vigild's override of both thresholds, nil for its default (10 ms).
  var thresholdOverride: String? { self == .vigildZero ? "0" : nil }

  /// Whether the ping-pong's pid is added as a vigild target.
  var targetsPingPong: Bool { self == .vigildDefault || self == .vigildZero }
}

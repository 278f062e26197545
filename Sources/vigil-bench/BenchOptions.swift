/// Command-line options of vigil-bench.
struct BenchOptions: Codable, Sendable {
  /// Interleaved rounds; each runs every mode once.
  var rounds = 5
  /// Length of one ping-pong window.
  var seconds = 3.0
  /// Ping-pong thread pairs.
  var pairs = 2
  /// How long vigild sits idle before its RSS is read.
  var idleSeconds = 3.0
  /// Longest total wait for an idle machine before windows (0: do not wait).
  var quietWait = 60.0
  /// Compare against libbpf-tools offcputime.
  var offcputime = true
  /// Synthetic record rates vigild consumes, one window each (empty: skip).
  var consumerRates: [Double] = [250_000, 500_000, 1_000_000, 2_000_000]
  /// Print the results as JSON instead of the report.
  var json = false

  static let usage = """
    usage: vigil-bench [--rounds N] [--seconds S] [--pairs P] [--idle-seconds S] [--quiet-wait S]
                       [--consumer-rates LIST] [--no-offcputime] [--json]

    Measures what vigild costs a context-switch ping-pong (vigil-workload pingpong), against no tracer
    and against libbpf-tools offcputime, in interleaved rounds; vigild's event throughput, CPU and
    losses with zero thresholds; and its RSS. Then vigild's capacity: synthetic records written into its
    ring buffer at set rates, with its CPU per event and losses. Run as root; needs bpffs at /sys/fs/bpf.

      --rounds N        interleaved rounds, each running every mode once (default 5; 0: no ping-pong)
      --seconds S       length of one ping-pong window (default 3)
      --pairs P         ping-pong thread pairs (default 2)
      --idle-seconds S  how long vigild idles before its RSS is read (default 3)
      --quiet-wait S    before each window, wait for other processes to leave the CPUs idle,
                        at most S s over the whole run (default 60; 0: do not wait)
      --consumer-rates LIST
                        synthetic records per second vigild consumes, comma-separated, one window of
                        --seconds each (default 250000,500000,1000000,2000000; none: skip)
      --no-offcputime   skip the libbpf-tools offcputime comparison
      --json            print the results as JSON on stdout
    """

  /// Parses `arguments` (without the program name); nil means help was asked for.
  static func parse(_ arguments: [String]) throws(BenchError) -> BenchOptions? {
    var options = BenchOptions()
    var rest = arguments[...]
    func value(_ flag: String) throws(BenchError) -> String {
      guard let next = rest.popFirst() else { throw BenchError("\(flag) needs a value") }
      return next
    }
    func positive<T: LosslessStringConvertible & Comparable & Numeric>(
      _ flag: String, _ type: T.Type
    )
      throws(BenchError) -> T
    {
      let text = try value(flag)
      guard let number = T(text), number > 0 else {
        throw BenchError("\(flag): \"\(text)\" is not a positive number")
      }
      return number
    }
    while let flag = rest.popFirst() {
      switch flag {
      case "--rounds":
        let text = try value(flag)
        guard let rounds = Int(text), rounds >= 0 else {
          throw BenchError("\(flag): \"\(text)\" is not a number of rounds")
        }
        options.rounds = rounds
      case "--consumer-rates":
        let text = try value(flag)
        if text == "none" {
          options.consumerRates = []
          continue
        }
        options.consumerRates = try text.split(separator: ",").map { (item) throws(BenchError) in
          guard let rate = Double(item), rate > 0 else {
            throw BenchError("\(flag): \"\(item)\" is not a positive rate")
          }
          return rate
        }
      case "--seconds": options.seconds = try positive(flag, Double.self)
      case "--pairs": options.pairs = try positive(flag, Int.self)
      case "--idle-seconds": options.idleSeconds = try positive(flag, Double.self)
      case "--quiet-wait":
        let text = try value(flag)
        guard let seconds = Double(text), seconds >= 0 else {
          throw BenchError("\(flag): \"\(text)\" is not a number of seconds")
        }
        options.quietWait = seconds
      case "--no-offcputime": options.offcputime = false
      case "--json": options.json = true
      case "-h", "--help": return nil
      default: throw BenchError("unknown option \(flag)\n\n\(usage)")
      }
    }
    return options
  }
}

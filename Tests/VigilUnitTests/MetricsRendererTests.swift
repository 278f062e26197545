import Testing

@testable import Agent

/// The Prometheus text exposition of the daemon's counters.
@Suite struct MetricsRendererTests {
  typealias Sample = MetricsRenderer.Sample

  @Test func oneSampleIsHelpTypeAndValueLines() {
    let text = MetricsRenderer().render([
      Sample("vigil_events_received_total", "counter", "Records read from the ring buffer.", 42)
    ])
    #expect(
      text == """
        # HELP vigil_events_received_total Records read from the ring buffer.
        # TYPE vigil_events_received_total counter
        vigil_events_received_total 42

        """)
  }

  @Test func samplesAreRenderedInOrder() {
    let text = MetricsRenderer().render([
      Sample("vigil_up", "gauge", "1 while vigild runs.", 1),
      Sample("vigil_uptime_seconds", "gauge", "Seconds since vigild started.", 12.5),
      Sample("vigil_targets", "gauge", "Targets being watched.", 0),
    ])
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(
      lines == [
        "# HELP vigil_up 1 while vigild runs.", "# TYPE vigil_up gauge", "vigil_up 1",
        "# HELP vigil_uptime_seconds Seconds since vigild started.",
        "# TYPE vigil_uptime_seconds gauge",
        "vigil_uptime_seconds 12.5",
        "# HELP vigil_targets Targets being watched.", "# TYPE vigil_targets gauge",
        "vigil_targets 0",
        "",
      ])
    #expect(text.hasSuffix("\n"))
    #expect(!text.hasSuffix("\n\n"))
  }

  @Test func noSamplesIsEmpty() {
    #expect(MetricsRenderer().render([]) == "")
  }

  /// Whole numbers have no decimal point; others keep their fraction.
  @Test(
    arguments: [
      (0, "0"), (-0.0, "0"), (1, "1"), (42, "42"), (-3, "-3"), (1_000_000, "1000000"),
      (123_456_789_012, "123456789012"), (999_999_999_999_999, "999999999999999"),
      (12.5, "12.5"), (0.001, "0.001"), (-2.25, "-2.25"),
    ] as [(Double, String)])
  func valueFormatting(value: Double, expected: String) {
    let text = MetricsRenderer().render([Sample("m", "gauge", "h", value)])
    #expect(text == "# HELP m h\n# TYPE m gauge\nm \(expected)\n")
  }

  /// Whole numbers of 10^15 and more (still exactly representable up to 2^53) keep no decimal
  /// point either.
  @Test(arguments: [1e15, 4e15, 9_007_199_254_740_992])
  func largeWholeNumbersHaveNoDecimalPoint(value: Double) {
    let text = MetricsRenderer().render([Sample("m", "counter", "h", value)])
    #expect(text == "# HELP m h\n# TYPE m counter\nm \(UInt64(value))\n")
  }

  /// Counters as large as a UInt64 can reach still render (in exponent form past 10^15).
  @Test func hugeCounterRendersWithoutTrapping() {
    let text = MetricsRenderer().render([Sample("m", "counter", "h", Double(UInt64.max))])
    let value = text.split(separator: "\n").last.map { $0.dropFirst(2) }
    #expect(value.flatMap { Double($0) } == Double(UInt64.max))
  }
}

import Foundation

/// The results as Markdown, ready to paste into the README.
struct Report {
  let results: Results

  func render() -> String {
    var lines = header()
    if !results.samples.isEmpty {
      lines += overheadTable()
      lines += daemonTable()
    }
    lines += consumerTable()
    lines += memoryTable()
    lines += goalsTable()
    return lines.joined(separator: "\n") + "\n"
  }

  private func header() -> [String] {
    let machine = results.machine
    let options = results.options
    return [
      "## vigil-bench",
      "",
      "`\(results.command)` on \(machine.cpus) CPUs (\(machine.cpuModel)), Linux \(machine.kernel), "
        + "\(machine.memoryMiB) MiB RAM: \(options.rounds) interleaved rounds of `vigil-workload pingpong "
        + "\(options.pairs) \(Self.number(options.seconds))` (\(options.pairs) thread pairs over pipes) per mode; "
        + "the run took \(Int(results.durationSeconds)) s.",
      "",
    ]
  }

  private func overheadTable() -> [String] {
    var lines = [
      "### Ping-pong round trips per second (median of \(results.options.rounds) rounds)", "",
      "vs. no tracer: median over the untraced median; per round: median of each round's rate over that round's "
        + "untraced rate. Ping-pong CPU: its own time, % of one core. Other load: CPU time of processes outside "
        + "the benchmark, % of all CPUs, in the busiest window.",
      "",
      "| tracer | median | min – max | vs. no tracer | per round | ping-pong CPU | other load |",
      "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for summary in results.summaries {
      let low = summary.rates.min() ?? 0
      let high = summary.rates.max() ?? 0
      lines.append(
        "| \(summary.mode.label) | \(Self.grouped(summary.medianRate)) | \(Self.grouped(low)) – \(Self.grouped(high)) "
          + "| \(String(format: "%.2f", summary.ratioToUntraced)) | \(String(format: "%.2f", summary.pairedRatio)) "
          + "| \(Int(summary.workloadCPUPercent.rounded()))% | \(Int(summary.maxOtherLoadPercent.rounded()))% |"
      )
    }
    let busiest = results.summaries.map(\.maxOtherLoadPercent).max() ?? 0
    if busiest > 10 {
      lines += [
        "",
        "**The machine was not idle**: other processes took up to \(Int(busiest))% of all CPUs in a window; "
          + "rates and ratios are noisy. Re-run on an idle machine.",
      ]
    }
    return lines + [""]
  }

  private func daemonTable() -> [String] {
    var lines = [
      "### vigild during the windows",
      "",
      "Events/s: medians over the windows; lost and stack failures: totals; CPU: vigild's user + system time "
        + "over all windows, in % of one core.",
      "",
      "| vigild | probe records/s | received/s | processed/s | lost (ring buffer / queue) | stack failures "
        + "| CPU | RSS after (max) | recent events with a stack / symbolized |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for summary in results.summaries {
      guard let daemon = summary.daemon else { continue }
      let windows = results.samples.filter { $0.mode == summary.mode }.compactMap(\.daemon)
      let records = median(windows.map { Double($0.window.records) / $0.seconds })
      let stacks =
        summary.mode.targetsPingPong
        ? "\(daemon.eventsWithStack) / \(daemon.eventsSymbolized) of \(daemon.eventsChecked)" : "–"
      lines.append(
        "| \(summary.mode.label) | \(Self.grouped(records)) | \(Self.grouped(daemon.medianEventsPerSecond)) "
          + "| \(Self.grouped(daemon.medianProcessedPerSecond)) "
          + "| \(Self.grouped(daemon.total.lostRingBuffer)) / \(Self.grouped(daemon.total.lostQueue)) "
          + "| \(Self.grouped(daemon.total.stackFailures)) | \(String(format: "%.1f%%", daemon.cpuPercent)) "
          + "| \(Self.mebibytes(daemon.maxRssKiB)) | \(stacks) |")
    }
    let examples = ([.vigildZero, .vigildDefault] as [Mode]).compactMap {
      results.summary($0)?.daemon?.exampleStack
    }
    if let example = examples.first(where: { !$0.isEmpty }) {
      lines += [
        "",
        "A ping-pong stack as vigild reported it (innermost first): `\(example.joined(separator: " ← "))`",
      ]
    }
    return lines + [""]
  }

  private func consumerTable() -> [String] {
    guard !results.consumer.isEmpty else { return [] }
    var lines = [
      "### vigild's capacity: synthetic records",
      "",
      "A BPF program (`bpf/tests/ring_producer.bpf.c`) writes copies of one off-CPU record, with a real "
        + "stack of the benchmark, into vigild's pinned ring buffer, waking vigild as its probes do. Each rate "
        + "is held for one \(Self.number(results.options.seconds)) s window, after a warm-up in which vigild "
        + "symbolizes the stack once; vigild makes every record an event "
        + "(symbolized stack, recent-events buffer) with events not logged. CPU: vigild's user + system time "
        + "over the window and its drain, % of one core.",
      "",
      "| offered/s | read/s | lost (ring buffer / queue) | vigild CPU | CPU per event |",
      "|---:|---:|---:|---:|---:|",
    ]
    for sample in results.consumer {
      lines.append(
        "| \(Self.grouped(sample.offeredPerSecond)) | \(Self.grouped(sample.receivedPerSecond)) "
          + "| \(Self.grouped(sample.lostRingBuffer)) / \(Self.grouped(sample.lostQueue)) "
          + "| \(String(format: "%.1f%%", sample.cpuPercent)) "
          + "| \(String(format: "%.0f ns", sample.nanosecondsPerEvent)) |")
    }
    return lines + [""]
  }

  private func memoryTable() -> [String] {
    let idle = results.idle
    let loaded = results.summary(.vigildZero)?.daemon?.maxRssKiB
    return [
      "### vigild memory", "",
      "| vigild RSS idle (embedded default, after \(Self.number(idle.seconds)) s) | CPU idle | RSS after zero-threshold load |",
      "|---:|---:|---:|",
      "| \(Self.mebibytes(idle.rssKiB)) | \(String(format: "%.2f%%", idle.cpuPercent)) "
        + "| \(loaded.map(Self.mebibytes) ?? "–") |",
      "",
    ]
  }

  private func goalsTable() -> [String] {
    var lines = ["### Goals", "", "| goal | measured | met |", "|---|---:|:---:|"]
    func row(_ goal: String, _ measured: String, _ met: Bool) {
      lines.append("| \(goal) | \(measured) | \(met ? "yes" : "no") |")
    }
    if let traced = results.summary(.vigildDefault) {
      row(
        "traced / untraced ≥ 0.90 (10 ms thresholds, stacks on)",
        String(format: "%.2f", traced.ratioToUntraced),
        traced.ratioToUntraced >= 0.90)
    }
    if let zero = results.summary(.vigildZero), let daemon = zero.daemon {
      let windows = results.samples.filter { $0.mode == .vigildZero }.compactMap(\.daemon)
      let offered = median(windows.map { Double($0.window.records) / $0.seconds })
      row(
        "zero thresholds: ≥ 1M events/s consumed",
        "\(Self.grouped(daemon.medianEventsPerSecond))/s (the probes wrote \(Self.grouped(offered))/s)",
        daemon.medianEventsPerSecond >= 1_000_000)
      row("zero thresholds: 0 lost", Self.grouped(daemon.total.lost), daemon.total.lost == 0)
      row(
        "zero thresholds: < 10% of a core", String(format: "%.1f%%", daemon.cpuPercent),
        daemon.cpuPercent < 10)
    }
    if let million = results.consumer.first(where: { $0.offeredPerSecond == 1_000_000 }) {
      row(
        "synthetic 1M records/s: all read, 0 lost",
        "\(Self.grouped(million.receivedPerSecond))/s, \(Self.grouped(million.lost)) lost",
        million.lost == 0 && million.received == million.produced)
      row(
        "synthetic 1M records/s: < 10% of a core", String(format: "%.1f%%", million.cpuPercent),
        million.cpuPercent < 10)
    }
    row(
      "RSS ≤ 30 MiB idle", Self.mebibytes(results.idle.rssKiB), results.idle.rssKiB <= 30 * 1024)
    if let peer = results.summary(.offcputime) {
      lines.append("")
      lines.append(
        "For comparison, offcputime kept \(String(format: "%.2f", peer.ratioToUntraced)) of the untraced rate."
      )
    }
    return lines
  }

  static func grouped<T: BinaryInteger>(_ value: T) -> String { grouped(Double(value)) }

  static func grouped(_ value: Double) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.maximumFractionDigits = 0
    formatter.locale = Locale(identifier: "en_US")
    return formatter.string(from: NSNumber(value: value.rounded())) ?? "\(Int(value))"
  }

  static func mebibytes(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1024) }

  static func number(_ value: Double) -> String {
    value == value.rounded() ? "\(Int(value))" : "\(value)"
  }
}

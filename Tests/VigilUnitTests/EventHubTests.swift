import CVigilABI
import ControlAPI
import Foundation
import Testing

@testable import Agent
@testable import BlockingModel

extension EventHub {
  /// Publishes a copy of `batch`.
  func publish(_ batch: Batch) {
    var batch = batch
    publish(&batch)
  }
}

/// Fan-out of events to API subscribers and the recent events.
@Suite struct EventHubTests {
  static let emptyStack = SharedStack(
    pid: 1, addresses: [], rendering: SharedStack.Rendering(stack: [], frames: []))

  /// A record of the given pid, kind and duration.
  static func info(pid: Int32 = 100, kind: String = "offcpu", durationNs: UInt64 = 1_000_000)
    -> BlockInfo
  {
    var raw = vigil_block_info()
    raw.kind = UInt32((kind == "futex" ? VIGIL_RECORD_FUTEX : VIGIL_RECORD_OFFCPU).rawValue)
    raw.pid = UInt32(bitPattern: pid)
    raw.duration_ns = durationNs
    return BlockInfo(raw: raw)
  }

  /// A batch of one event of the given pid, kind and duration, already encoded as `line`.
  static func batch(
    pid: Int32 = 100, kind: String = "offcpu", durationNs: UInt64 = 1_000_000, line: String
  ) -> EventHub.Batch {
    var batch = EventHub.Batch()
    batch.append(
      info(pid: pid, kind: kind, durationNs: durationNs), stack: emptyStack, wallClockOffset: 0,
      line: line)
    return batch
  }

  /// Publishes an event with a line naming it, so tests can tell lines apart.
  static func publish(
    _ hub: EventHub, _ index: Int, pid: Int32 = 100, kind: String = "offcpu",
    durationNs: UInt64 = 1_000_000
  ) {
    hub.publish(batch(pid: pid, kind: kind, durationNs: durationNs, line: "line\(index)"))
  }

  /// `episode` as the probes lay it out, without its stack.
  static func info(_ episode: BlockingEpisode) -> BlockInfo {
    func setChars<Tuple>(_ tuple: inout Tuple, _ text: String) {
      withUnsafeMutableBytes(of: &tuple) { raw in
        for (index, byte) in text.utf8.prefix(raw.count).enumerated() { raw[index] = byte }
      }
    }
    var raw = vigil_block_info()
    raw.kind = UInt32((episode.kind == .futex ? VIGIL_RECORD_FUTEX : VIGIL_RECORD_OFFCPU).rawValue)
    raw.pid = UInt32(bitPattern: episode.pid)
    raw.tid = UInt32(bitPattern: episode.tid)
    raw.target_id = episode.targetID
    raw.start_ns = episode.startMonotonicNanoseconds
    raw.duration_ns = episode.durationNanoseconds
    raw.state = episode.state == .interruptible ? 1 : episode.state == .uninterruptible ? 2 : 0
    raw.goroutine = episode.goroutine ?? -1
    setChars(&raw.comm, episode.comm)
    if let waker = episode.waker {
      raw.waker_pid = UInt32(bitPattern: waker.pid)
      raw.waker_tid = UInt32(bitPattern: waker.tid)
      setChars(&raw.waker_comm, waker.comm)
    }
    if let futex = episode.futex {
      raw.futex_uaddr = futex.address
      raw.futex_op = futex.operation
      raw.futex_syscall = futex.syscall.rawValue
      raw.futex_ret = futex.returnValue
      raw.futex_outcome = UInt32(
        [
          .woken: VIGIL_FUTEX_WOKEN, .timedOut: VIGIL_FUTEX_TIMED_OUT,
          .interrupted: VIGIL_FUTEX_INTERRUPTED, .error: VIGIL_FUTEX_ERROR,
        ][futex.outcome]!.rawValue)
    }
    raw.stack_bytes = Int32(episode.stack.count * 8)
    return BlockInfo(raw: raw)
  }

  /// A record published as it is (not logged) is made into the same event the log would
  /// carry, when a subscriber or a recent-events query reads it, and is filtered the same way.
  @Test func unloggedRecordsBecomeTheLoggedEventWhenRead() {
    let hub = EventHub()
    let subscription = hub.subscribe(EventHub.Filter(kind: "futex"))
    let formatter = EventFormatter()
    let rendering = formatter.render(EventFormatterTests.frames)
    let episodes = [EventFormatterTests.offcpu(), EventFormatterTests.futex()]
    let stacks = episodes.map {
      SharedStack(pid: $0.pid, addresses: $0.stack, rendering: rendering)
    }
    let infos = episodes.map(Self.info)
    #expect(zip(infos, episodes).allSatisfy { $0.episode(stack: $1.stack) == $1 })
    var batch = EventHub.Batch()
    for (info, stack) in zip(infos, stacks) {
      batch.append(info, stack: stack, wallClockOffset: EventFormatterTests.offset)
    }
    #expect(batch.stacks.count == 2)
    hub.publish(batch)
    let logged = episodes.map {
      formatter.line(
        formatter.event(for: $0, stack: rendering, wallClockOffset: EventFormatterTests.offset))
    }
    #expect(hub.recent(EventHub.Filter(), limit: 10) == logged)
    #expect(hub.recent(EventHub.Filter(pid: 4242, kind: "offcpu"), limit: 10) == [logged[0]])
    #expect(
      hub.recent(EventHub.Filter(minDurationNanoseconds: 1_000_000_000), limit: 10) == [logged[1]])
    #expect(subscription.next(timeout: 1) == [logged[1]])
  }

  // MARK: Filters

  @Test func filterAcceptsByPidKindAndDuration() {
    let all = EventHub.Filter()
    let byPid = EventHub.Filter(pid: 7)
    let byKind = EventHub.Filter(kind: "futex")
    let byDuration = EventHub.Filter(minDurationNanoseconds: 5_000)
    let combined = EventHub.Filter(pid: 7, kind: "futex", minDurationNanoseconds: 5_000)

    func entry(pid: Int32 = 100, kind: String = "offcpu", durationNs: UInt64 = 1_000_000)
      -> EventHub.Batch.Entry
    { Self.batch(pid: pid, kind: kind, durationNs: durationNs, line: "").entries[0] }
    let matching = entry(pid: 7, kind: "futex", durationNs: 5_000)
    #expect(matching.accepted(by: all))
    #expect(matching.accepted(by: byPid))
    #expect(matching.accepted(by: byKind))
    #expect(matching.accepted(by: byDuration))
    #expect(matching.accepted(by: combined))

    #expect(!entry(pid: 8).accepted(by: byPid))
    #expect(!entry(kind: "offcpu").accepted(by: byKind))
    #expect(!entry(durationNs: 4_999).accepted(by: byDuration))
    #expect(!entry(pid: 8, kind: "futex", durationNs: 5_000).accepted(by: combined))
    #expect(!entry(pid: 7, kind: "offcpu", durationNs: 5_000).accepted(by: combined))
    #expect(!entry(pid: 7, kind: "futex", durationNs: 4_999).accepted(by: combined))
  }

  @Test func recentIsFiltered() {
    let hub = EventHub(recentCapacity: 16, subscriberCapacity: 16)
    Self.publish(hub, 1, pid: 1, kind: "offcpu", durationNs: 10)
    Self.publish(hub, 2, pid: 2, kind: "futex", durationNs: 20)
    Self.publish(hub, 3, pid: 1, kind: "futex", durationNs: 30)
    Self.publish(hub, 4, pid: 2, kind: "offcpu", durationNs: 40)
    #expect(hub.recent(.init(), limit: 100) == ["line1", "line2", "line3", "line4"])
    #expect(hub.recent(.init(pid: 1), limit: 100) == ["line1", "line3"])
    #expect(hub.recent(.init(kind: "futex"), limit: 100) == ["line2", "line3"])
    #expect(hub.recent(.init(minDurationNanoseconds: 25), limit: 100) == ["line3", "line4"])
    #expect(
      hub.recent(.init(pid: 2, kind: "offcpu", minDurationNanoseconds: 1), limit: 100) == ["line4"])
    #expect(hub.recent(.init(pid: 3), limit: 100) == [])
  }

  // MARK: Recent ring

  @Test func recentKeepsTheLastNInOrder() {
    let hub = EventHub(recentCapacity: 3, subscriberCapacity: 16)
    #expect(hub.recent(.init(), limit: 10) == [])
    Self.publish(hub, 1)
    Self.publish(hub, 2)
    #expect(hub.recent(.init(), limit: 10) == ["line1", "line2"])
    Self.publish(hub, 3)
    #expect(hub.recent(.init(), limit: 10) == ["line1", "line2", "line3"])
    Self.publish(hub, 4)
    #expect(hub.recent(.init(), limit: 10) == ["line2", "line3", "line4"])
    for index in 5...11 {
      Self.publish(hub, index)
      #expect(hub.recent(.init(), limit: 10) == (index - 2...index).map { "line\($0)" })
    }
  }

  /// Batches of any size keep the last N in order; the storage of a batch that left comes
  /// back to the publisher to be filled again.
  @Test func batchesKeepTheLastNAndHandStorageBack() {
    let hub = EventHub(recentCapacity: 3, subscriberCapacity: 16)
    func fill(_ batch: inout EventHub.Batch, _ indexes: ClosedRange<Int>) {
      for index in indexes {
        batch.append(Self.info(), stack: Self.emptyStack, wallClockOffset: 0, line: "line\(index)")
      }
    }
    var batch = EventHub.Batch()
    fill(&batch, 1...2)
    hub.publish(&batch)
    #expect(batch.isEmpty)
    fill(&batch, 3...6)
    hub.publish(&batch)
    #expect(hub.recent(.init(), limit: 10) == ["line4", "line5", "line6"])
    #expect(batch.isEmpty && batch.entries.capacity >= 2)  // the first batch's storage
    fill(&batch, 7...7)
    hub.publish(&batch)
    #expect(hub.recent(.init(), limit: 10) == ["line5", "line6", "line7"])
    #expect(hub.recent(.init(), limit: 2) == ["line6", "line7"])
    fill(&batch, 8...10)
    hub.publish(&batch)
    #expect(hub.recent(.init(), limit: 10) == ["line8", "line9", "line10"])
  }

  /// A batch keeps each stack once, however its events interleave them.
  @Test func aBatchKeepsEachStackOnce() {
    let stacks = (0..<3).map {
      SharedStack(
        pid: 1, addresses: [UInt64($0)], rendering: SharedStack.Rendering(stack: [], frames: []))
    }
    var batch = EventHub.Batch()
    for index in [0, 0, 1, 0, 2, 2, 1, 0] {
      batch.append(Self.info(), stack: stacks[index], wallClockOffset: 0)
    }
    #expect(batch.stacks.map(\.addresses) == [[0], [1], [2]])
    #expect(batch.entries.map(\.stackIndex) == [0, 0, 1, 0, 2, 2, 1, 0])
  }

  @Test func recentLimitKeepsTheNewest() {
    let hub = EventHub(recentCapacity: 5, subscriberCapacity: 16)
    for index in 1...8 { Self.publish(hub, index) }
    #expect(hub.recent(.init(), limit: 2) == ["line7", "line8"])
    #expect(hub.recent(.init(), limit: 0) == [])
    Self.publish(hub, 9, pid: 9)
    #expect(hub.recent(.init(pid: 100), limit: 2) == ["line7", "line8"])
  }

  // MARK: Subscribers

  @Test func subscriberReceivesMatchingEventsInOrder() {
    let hub = EventHub(recentCapacity: 4, subscriberCapacity: 16)
    Self.publish(hub, 0)  // before subscribing: not streamed
    let all = hub.subscribe(.init())
    let futexOnly = hub.subscribe(.init(kind: "futex"))
    let pid7Long = hub.subscribe(.init(pid: 7, minDurationNanoseconds: 1_000))
    Self.publish(hub, 1, pid: 7, kind: "offcpu", durationNs: 999)
    Self.publish(hub, 2, pid: 7, kind: "futex", durationNs: 1_000)
    Self.publish(hub, 3, pid: 8, kind: "futex", durationNs: 5_000)
    #expect(all.next(timeout: 0) == ["line1", "line2", "line3"])
    #expect(futexOnly.next(timeout: 0) == ["line2", "line3"])
    #expect(pid7Long.next(timeout: 0) == ["line2"])
    #expect(all.next(timeout: 0) == [])
    #expect(hub.lostSubscribers == 0)
  }

  @Test func nextWaitsForAPublish() {
    let hub = EventHub(recentCapacity: 4, subscriberCapacity: 16)
    let subscription = hub.subscribe(.init())
    let publisher = Thread {
      Thread.sleep(forTimeInterval: 0.05)
      Self.publish(hub, 1)
    }
    publisher.start()
    #expect(subscription.next(timeout: 10) == ["line1"])
  }

  @Test func fullSubscriberQueueDropsAndCounts() {
    let hub = EventHub(recentCapacity: 16, subscriberCapacity: 2)
    let slow = hub.subscribe(.init())
    let other = hub.subscribe(.init(pid: 200))
    for index in 1...5 { Self.publish(hub, index) }
    Self.publish(hub, 6, pid: 200)
    // The slow subscriber keeps the first two and loses the rest; the other loses nothing.
    #expect(hub.lostSubscribers == 4)
    #expect(slow.next(timeout: 0) == ["line1", "line2"])
    #expect(other.next(timeout: 0) == ["line6"])
    // The recent ring is not affected.
    #expect(hub.recent(.init(), limit: 10).count == 6)
    // Room again after draining.
    Self.publish(hub, 7)
    #expect(slow.next(timeout: 0) == ["line7"])
    #expect(hub.lostSubscribers == 4)
  }

  @Test func lossesOfDepartedSubscribersStayCounted() {
    let hub = EventHub(recentCapacity: 16, subscriberCapacity: 1)
    let first = hub.subscribe(.init())
    Self.publish(hub, 1)
    Self.publish(hub, 2)
    Self.publish(hub, 3)
    #expect(hub.lostSubscribers == 2)
    hub.unsubscribe(first)
    #expect(hub.lostSubscribers == 2)
    let second = hub.subscribe(.init())
    Self.publish(hub, 4)
    Self.publish(hub, 5)
    #expect(hub.lostSubscribers == 3)
    hub.unsubscribe(second)
    #expect(hub.lostSubscribers == 3)
    // Unsubscribing twice does not count twice.
    hub.unsubscribe(second)
    #expect(hub.lostSubscribers == 3)
  }

  @Test func unsubscribeStopsDelivery() {
    let hub = EventHub(recentCapacity: 16, subscriberCapacity: 16)
    let leaving = hub.subscribe(.init())
    let staying = hub.subscribe(.init())
    Self.publish(hub, 1)
    hub.unsubscribe(leaving)
    Self.publish(hub, 2)
    // What was queued before leaving is still handed out, then the stream ends.
    #expect(leaving.next(timeout: 0) == ["line1"])
    #expect(leaving.next(timeout: 0) == nil)
    #expect(staying.next(timeout: 0) == ["line1", "line2"])
    #expect(hub.lostSubscribers == 0)
  }

  @Test func closeAllEndsEveryStream() {
    let hub = EventHub(recentCapacity: 16, subscriberCapacity: 16)
    let first = hub.subscribe(.init())
    let second = hub.subscribe(.init(kind: "futex"))
    hub.closeAll()
    #expect(first.next(timeout: 5) == nil)
    #expect(second.next(timeout: 5) == nil)
    // Publishing after shutdown still feeds the recent ring, not the closed streams.
    Self.publish(hub, 1)
    #expect(first.next(timeout: 0) == nil)
    #expect(hub.recent(.init(), limit: 10) == ["line1"])
    #expect(hub.lostSubscribers == 0)
  }

  @Test func closeAllWakesAWaitingSubscriber() {
    let hub = EventHub(recentCapacity: 16, subscriberCapacity: 16)
    let subscription = hub.subscribe(.init())
    let result = LockedValue<[String]?>([])
    let done = DispatchSemaphore(value: 0)
    let waiter = Thread {
      let lines = subscription.next(timeout: 30)
      result.withLock { $0 = lines }
      done.signal()
    }
    waiter.start()
    Thread.sleep(forTimeInterval: 0.05)
    let started = Date()
    hub.closeAll()
    #expect(done.wait(timeout: .now() + 10) == .success)
    #expect(Date().timeIntervalSince(started) < 10)
    #expect(result.withLock { $0 } == nil)
  }
}

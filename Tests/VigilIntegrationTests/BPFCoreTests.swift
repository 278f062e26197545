import BPFCore
import Foundation
import Logging
import Probes
import VigilBPF
import VigilBPFTestObjects
import XCTest

/// The libbpf wrapper against the kernel: descriptors, typed maps, errors.
final class BPFCoreTests: XCTestCase {
  override func setUpWithError() throws { try TestEnvironment.requireBPF() }

  func testEveryDescriptorIsClosedWhenItsOwnerGoes() throws {
    let before = TestEnvironment.openDescriptors()
    let pinRoot = TestEnvironment.makePinRoot()
    defer { BPFPin.removeTree(pinRoot) }
    do {
      let probes = try BlockingProbes(
        pinRoot: pinRoot, ringBufferBytes: 1 << 16, logger: Logger(label: "test"))
      let ring = try probes.makeRingBuffer { _ in }
      try ring.poll(timeoutMilliseconds: 1)
      let map = try BPFMap<UInt32, UInt64>.create(type: .hash, name: "vigil_fdtest", maxEntries: 4)
      try map.update(1, 2)
      XCTAssertEqual(try map.lookup(1), 2)
      probes.unpin()
    }
    XCTAssertEqual(TestEnvironment.openDescriptors(), before)
  }

  /// The ring buffer consumer against a real producer (`bpf/tests/ring_producer.bpf.c`):
  /// every record whole and in order, many times across the end of the ring, and records
  /// the ring had no room for counted by the producer, never misread.
  func testRingBufferHandsOverEveryRecordInOrderAcrossTheWrap() throws {
    let before = TestEnvironment.openDescriptors()
    do {
      let object = try BPFObject(bytes: TestBPFObjects.ringProducer, name: "ring_producer.bpf.o")
      try object.setMaxEntries(map: "vigil_events", 16 << 10)  // 43 records of 368 + 8 bytes
      try object.load()
      let program = try object.program("vigil_produce")
      let lost = try BPFMap<UInt32, UInt64>(fd: object.mapFD(".bss"))
      var numbers: [UInt64] = []
      var sizes: Set<Int> = []
      var kinds: Set<UInt32> = []
      let ring = try BPFRingBuffer(map: object.mapFD("vigil_events")) { bytes in
        sizes.insert(bytes.count)
        kinds.insert(bytes.loadUnaligned(as: UInt32.self))
        numbers.append(bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))  // info.start_ns
      }
      func produce(from first: UInt64, count: UInt32) throws {
        _ = try program.run(context: (first, count, UInt32(0)))
      }

      XCTAssertEqual(try ring.poll(timeoutMilliseconds: 0), 0)
      for round in 0..<10 {
        let first = UInt64(round * 30)
        try produce(from: first, count: 30)
        XCTAssertEqual(try ring.poll(timeoutMilliseconds: 100), 30, "round \(round)")
        XCTAssertEqual(numbers, Array(first..<first + 30), "round \(round)")
        numbers.removeAll()
      }
      XCTAssertEqual(sizes, [368])
      XCTAssertEqual(kinds, [1])  // the template's: VIGIL_RECORD_OFFCPU

      try produce(from: 1000, count: 100)
      XCTAssertEqual(ring.consume(), 43)
      XCTAssertEqual(numbers, Array(1000..<1043))
      XCTAssertEqual(try lost.lookup(0), 57)
      XCTAssertEqual(ring.consume(), 0)

      // A second producer on the same map (as vigil-bench writes into vigild's pinned one).
      let second = try BPFObject(bytes: TestBPFObjects.ringProducer, name: "ring_producer.bpf.o")
      try second.reuseMap("vigil_events", fd: object.mapFD("vigil_events"))
      try second.load()
      _ = try second.program("vigil_produce").run(context: (UInt64(5000), UInt32(3), UInt32(0)))
      XCTAssertEqual(ring.consume(), 3)
      XCTAssertEqual(numbers, Array(1000..<1043) + [5000, 5001, 5002])
    }
    XCTAssertEqual(
      TestEnvironment.openDescriptors(), before, "a ring buffer test leaked descriptors")
  }

  func testTypedMapsCheckSizesAndRoundTrip() throws {
    let map = try BPFMap<UInt32, UInt64>.create(type: .hash, name: "vigil_typed", maxEntries: 8)
    try map.updateBatch(keys: [1, 2, 3], values: [10, 20, 30])
    XCTAssertEqual(try map.keys().sorted(), [1, 2, 3])
    XCTAssertEqual(try map.lookup(2), 20)
    XCTAssertTrue(try map.delete(2))
    XCTAssertFalse(try map.delete(2))
    XCTAssertNil(try map.lookup(2))
    XCTAssertThrowsError(try BPFMap<UInt64, UInt64>(fd: map.fd.duplicate(context: "test"))) {
      error in
      XCTAssertTrue("\(error)".contains("key/value sizes"), "\(error)")
    }
  }

  func testMapOfMapsSwapsInnerMaps() throws {
    let inner = try BPFMap<UInt32, UInt32>.create(type: .array, name: "vigil_inner", maxEntries: 1)
    let outer = try BPFMap<UInt32, UInt32>.create(
      type: .arrayOfMaps, name: "vigil_outer", maxEntries: 2, innerMap: inner.fd)
    let replacement = try BPFMap<UInt32, UInt32>.create(
      type: .array, name: "vigil_inner2", maxEntries: 1)
    try outer.setInner(0, map: inner.fd)
    XCTAssertEqual(try outer.lookup(0), inner.info.id)
    try outer.setInner(0, map: replacement.fd)
    XCTAssertEqual(try outer.lookup(0), replacement.info.id)
  }

  func testMappedArrayWritesReachTheMap() throws {
    let array = try BPFMappedArray<UInt64>(name: "vigil_mapped", count: 1000)
    XCTAssertEqual(array.map.info.maxEntries, 1000)
    array.write([7, 8, 9], from: 997)
    array.write([1])
    XCTAssertEqual(try array.map.lookup(0), 1)
    XCTAssertEqual(try array.map.lookup(997), 7)
    XCTAssertEqual(try array.map.lookup(999), 9)
    XCTAssertEqual(try array.map.lookup(500), 0)
    // An inner array of another size than its template fits a map-of-maps made for it.
    let template = try BPFMap<UInt32, UInt64>.create(
      type: .array, name: "vigil_tmpl", maxEntries: 1,
      flags: BPFMapFlags.mmapable | BPFMapFlags.innerMap)
    let outer = try BPFMap<UInt32, UInt32>.create(
      type: .arrayOfMaps, name: "vigil_outer", maxEntries: 1, innerMap: template.fd)
    let inner = try BPFMappedArray<UInt64>(
      name: "vigil_inner", count: 5000, flags: BPFMapFlags.innerMap)
    try outer.setInner(0, map: inner.map.fd)
    XCTAssertEqual(try outer.lookup(0), inner.map.info.id)
  }

  func testRejectedProgramCarriesTheVerifierLog() throws {
    let object = try BPFObject(bytes: TestBPFObjects.rejected, name: "rejected.bpf.o")
    XCTAssertThrowsError(try object.load()) { error in
      let failure = error as? BPFError
      XCTAssertEqual(failure?.function, "bpf_object__load")
      XCTAssertEqual(failure?.errno, EACCES)
      let log = failure?.log ?? ""
      XCTAssertTrue(log.contains("invalid mem access"), "verifier log missing: \(log)")
      XCTAssertTrue("\(error)".contains("loading BPF object rejected.bpf.o"))
    }
  }

  func testPolicyClassifierPassesTheVerifier() throws {
    let object = try BPFObject(bytes: EmbeddedBPF.policy, name: "policy.bpf.o")
    try object.setMaxEntries(map: "vigil_pol_count", 3 * 1024)
    try object.load()
    XCTAssertEqual(
      object.programNames,
      ["vigil_tc_ingress", "vigil_tc_egress", "vigil_cg_ingress", "vigil_cg_egress"])
    // With no generation active, every packet passes (tcx: TCX_NEXT).
    let result = try object.program("vigil_tc_ingress").testRun(
      packet: [UInt8](repeating: 0, count: 64))
    XCTAssertEqual(Int32(bitPattern: result.returnValue), -1)
  }

  func testTestRunRunsAProgramOnAPacket() throws {
    let object = try BPFObject(bytes: TestBPFObjects.classifier, name: "classifier.bpf.o")
    try object.load()
    let program = try object.program("vigil_test_classifier")
    let short = try program.testRun(packet: [UInt8](repeating: 0, count: 64), repetitions: 10)
    XCTAssertEqual(short.returnValue, 0)
    XCTAssertEqual(short.dataOut.count, 64)
    let long = try program.testRun(packet: [UInt8](repeating: 0, count: 200))
    XCTAssertEqual(long.returnValue, 2)
  }

  func testSettingsAndTargetsReachTheKernelMaps() throws {
    let pinRoot = TestEnvironment.makePinRoot()
    defer { BPFPin.removeTree(pinRoot) }
    let probes = try BlockingProbes(
      pinRoot: pinRoot, ringBufferBytes: 1 << 16, logger: Logger(label: "test"))
    try probes.watchProcess(4242, targetID: 3)
    try probes.watchCgroup(77, targetID: 4)
    XCTAssertEqual(try probes.watchedProcesses(), [4242: 3])
    try probes.clearTargets()
    XCTAssertEqual(try probes.watchedProcesses(), [:])
    XCTAssertEqual(try probes.readCounters().lostRingBuffer, 0)
  }

  func testPinsSurviveTheirOwnerAndReopen() throws {
    let pinRoot = TestEnvironment.makePinRoot()
    try BPFPin.makeDirectory(pinRoot)
    defer { BPFPin.removeTree(pinRoot) }
    do {
      let map = try BPFMap<UInt32, UInt64>.create(type: .array, name: "vigil_pinned", maxEntries: 1)
      try map.update(0, 42)
      try map.pin(at: "\(pinRoot)/map")
    }
    let reopened = try BPFMap<UInt32, UInt64>(fd: BPFPin.open("\(pinRoot)/map"))
    XCTAssertEqual(try reopened.lookup(0), 42)
    XCTAssertThrowsError(try BPFPin.open("\(pinRoot)/missing")) { error in
      XCTAssertTrue("\(error)".contains("\(pinRoot)/missing"))
    }
  }
}

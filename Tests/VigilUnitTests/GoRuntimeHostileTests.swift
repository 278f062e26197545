import Foundation
import Testing

@testable import GoRuntime

// Truncated, random and mutated binaries: every reader must throw or answer, never trap, and
// memory must stay bounded.

/// Runs every reader on `bytes`, ignoring the errors they throw.
private func exercise(_ bytes: [UInt8]) {
  guard let binary = try? GoBinary(bytes: bytes) else { return }
  _ = (binary.isGo, binary.goVersion, binary.modulePath, binary.isStripped, binary.hasDWARF)
  for name in [
    "runtime.allgs", "runtime.allglen", "runtime.allm", "runtime.waitReasonStrings",
    "runtime.gStatusStrings", "runtime.buildVersion",
  ] {
    _ = try? binary.symbol(named: name)
    _ = try? binary.strippedVariable(named: name)
  }
  _ = try? binary.symbol(named: "main.main")
  _ = try? binary.waitReasons()
  _ = try? binary.goroutineStatusNames()
  _ = try? binary.offsets()
  guard let text = binary.pclntab?.textRange, !text.isEmpty else { return }
  let step = max(1, (text.upperBound - text.lowerBound) / 32)
  for pc in stride(from: text.lowerBound, to: text.upperBound, by: Int(step)) {
    _ = try? binary.sourceLocation(for: pc)
  }
}

/// The process's peak resident memory so far, in bytes.
private func peakResidentBytes() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return usage.ru_maxrss * 1024
}

/// File ranges worth mutating: the ELF headers and the start of every section.
private func interestingRanges(_ bytes: [UInt8]) throws -> [Range<Int>] {
  let image = try ELFImage(ByteSource(bytes: bytes))
  let headers = Int(bytes.le(0x28, as: UInt64.self) ?? 0)
  var ranges = [0..<0x200, headers..<min(bytes.count, headers + 64 * image.sections.count)]
  for section in image.sections where section.type != ELFImage.Section.noBits {
    let start = Int(section.offset)
    let end = min(start + Int(min(section.size, 1 << 16)), bytes.count)
    if start < end { ranges.append(start..<end) }
  }
  return ranges
}

private func mutate(_ base: [UInt8], _ ranges: [Range<Int>], _ random: inout SeededRandom)
  -> [UInt8]
{
  var bytes = base
  let interesting: [UInt64] = [0, 1, 8, 0x7fff_ffff, 0xffff_ffff, .max, UInt64(base.count)]
  for _ in 0..<Int.random(in: 1...8, using: &random) {
    // Mostly inside structures, sometimes anywhere.
    let range = Bool.random(using: &random) ? ranges.randomElement(using: &random)! : base.indices
    let offset = Int.random(in: range, using: &random)
    switch Int.random(in: 0..<4, using: &random) {
    case 0: bytes[offset] = UInt8.random(in: 0...255, using: &random)
    case 1: bytes[offset] ^= 1 << UInt8.random(in: 0..<8, using: &random)
    default:
      let value = interesting.randomElement(using: &random)!
      for i in 0..<min(8, bytes.count - offset) {
        bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i))
      }
    }
  }
  if Int.random(in: 0..<20, using: &random) == 0 {
    bytes.removeLast(Int.random(in: 0..<bytes.count, using: &random))
  }
  return bytes
}

@Test func survivesRandomBytes() {
  var random = SeededRandom(state: 1)
  for count in [0, 1, 4, 16, 63, 64, 65, 200, 4096] {
    for _ in 0..<20 {
      var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
      // Half of them get past the magic check.
      if count >= 4, Bool.random(using: &random) {
        bytes.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
        if count >= 6 { (bytes[4], bytes[5]) = (2, 1) }
      }
      exercise(bytes)
    }
  }
}

@Suite(.enabled(if: !GoToolchain.all.isEmpty, GoToolchain.skipMessage))
struct GoRuntimeHostileTests {
  @Test func survivesTruncation() async throws {
    let fixture = try await GoFixtures.shared.fixture(GoToolchain.all[0])
    for path in [fixture.uncompressed, fixture.stripped] {
      let base = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
      for length in stride(from: 0, to: base.count, by: base.count / 48) + [base.count - 1] {
        exercise(Array(base[..<length]))
      }
    }
  }

  /// 1000 seeded mutations, of the build with uncompressed DWARF (so they reach the DWARF reader)
  /// and of the stripped build (so they reach the code and data patterns).
  @Test func survivesMutations() async throws {
    let fixture = try await GoFixtures.shared.fixture(GoToolchain.all[0])
    let peakBefore = peakResidentBytes()
    var random = SeededRandom(state: 0x5669_6769_6c)
    for (path, count) in [(fixture.uncompressed, 600), (fixture.stripped, 400)] {
      let base = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
      let ranges = try interestingRanges(base)
      for _ in 0..<count { exercise(mutate(base, ranges, &random)) }
    }
    // Reads are bounded by the input's size: a 2 MB input never needs much.
    let growth = peakResidentBytes() - peakBefore
    #expect(growth < 256 << 20, "peak resident memory grew by \(growth >> 20) MiB")
  }
}

import Foundation
import Testing

@testable import GoRuntime

// Go binaries built by real toolchains (see GoRuntimeFixturesTests.swift), checked against the
// toolchain's own `go tool nm` and `go tool objdump` and against the generated offsets table.

private let runtimeVariables = [
  "runtime.allgs", "runtime.allglen", "runtime.allm", "runtime.waitReasonStrings",
  "runtime.gStatusStrings", "runtime.buildVersion",
]

@Suite(.enabled(if: !GoToolchain.all.isEmpty, GoToolchain.skipMessage))
struct GoRuntimeBinaryTests {
  @Test(arguments: GoToolchain.all)
  func readsBuildInfo(_ toolchain: GoToolchain) async throws {
    let fixture = try await GoFixtures.shared.fixture(toolchain)
    for path in [fixture.normal, fixture.stripped] {
      let binary = try GoBinary(path: path)
      #expect(binary.isGo && binary.version == fixture.version)
      #expect(binary.goVersion != nil && binary.goVersion == GoVersion(fixture.version))
      #expect(binary.modulePath == GoFixtures.module && binary.mainPackage == GoFixtures.module)
    }
    #expect(try !GoBinary(path: fixture.normal).isStripped)
    #expect(try GoBinary(path: fixture.stripped).isStripped)
  }

  @Test(arguments: GoToolchain.all)
  func findsSymbolsLikeGoToolNm(_ toolchain: GoToolchain) async throws {
    let fixture = try await GoFixtures.shared.fixture(toolchain)
    var nm: [String: (address: UInt64, size: UInt64)] = [:]
    for line in try await fixture.tool("nm", "-size", fixture.normal).split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count == 4, let address = UInt64(fields[0], radix: 16),
        let size = UInt64(fields[1])
      else { continue }
      nm[String(fields[3])] = (address, size)
    }
    let normal = try GoBinary(path: fixture.normal)
    for name in runtimeVariables {
      let expected = try #require(nm[name], "go tool nm lists no \(name)")
      let symbol = try normal.symbol(named: name)
      #expect(symbol.address == expected.address && symbol.size == expected.size)
      #expect(symbol.source == .symtab)
      // The stripped-binary fallback, checked where the truth is known.
      let fallback = try normal.strippedVariable(named: name)
      #expect(fallback.address == expected.address, "\(name) by \(fallback.source)")
      #expect(fallback.size == expected.size || name == "runtime.buildVersion")
    }
    for (name, nmName) in [
      ("runtime.gopark", "runtime.gopark"), ("runtime.goexit", "runtime.goexit.abi0"),
      ("main.main", "main.main"),
    ] {
      let expected = try #require(nm[nmName])
      #expect(try normal.symbol(named: name).address == expected.address)
      #expect(try normal.function(named: name)?.entry == expected.address)
    }

    let stripped = try GoBinary(path: fixture.stripped)
    for name in runtimeVariables {
      let symbol = try stripped.symbol(named: name)
      #expect([.codePattern, .dataPattern].contains(symbol.source))
      #expect(symbol.size == (try normal.symbol(named: name).size))
    }
    for name in ["runtime.gopark", "runtime.goexit", "main.main"] {
      let symbol = try stripped.symbol(named: name)
      let function = try #require(try normal.function(named: name))
      #expect(symbol.source == .pclntab && symbol.size == function.end - function.entry)
    }
    for binary in [normal, stripped] {
      do {
        _ = try binary.symbol(named: "runtime.nothing")
        Issue.record("found runtime.nothing")
      } catch GoRuntimeError.symbolNotFound(let name, _) {
        #expect(name == "runtime.nothing")
      }
    }
  }

  @Test(arguments: GoToolchain.all)
  func mapsPCsLikeGoToolObjdump(_ toolchain: GoToolchain) async throws {
    let fixture = try await GoFixtures.shared.fixture(toolchain)
    let normal = try GoBinary(path: fixture.normal)
    // runtime.allgadd has inlined calls: objdump shows the inlined body's file and line.
    for function in ["main.main", "runtime.allgadd"] {
      let listing = try await fixture.tool("objdump", "-s", "^\(function)$", fixture.normal)
      var lines = 0
      for line in listing.split(separator: "\n") where line.hasPrefix("  ") {
        // "  file.go:12\t0x401000\t..."
        let fields = line.trimmingCharacters(in: .whitespaces).split(separator: "\t")
        guard fields.count >= 2, let colon = fields[0].lastIndex(of: ":"),
          let pc = UInt64(fields[1].dropFirst(2), radix: 16)
        else { continue }
        let location = try #require(try normal.sourceLocation(for: pc))
        #expect(location.function.name == function)
        #expect(location.file.hasSuffix("/" + fields[0][..<colon]))
        #expect(location.line == Int(fields[0][fields[0].index(after: colon)...]))
        lines += 1
      }
      #expect(lines > 5, "objdump listed \(lines) instructions of \(function)")
    }
    let main = try #require(try normal.function(named: "main.main"))
    #expect(try normal.function(containing: main.end - 1) == main)
    #expect(try normal.sourceLocation(for: main.entry)?.file.hasSuffix("/src/main.go") == true)
    #expect(try normal.function(containing: 0x10) == nil)
    #expect(try normal.sourceLocation(for: UInt64.max) == nil)

    // The stripped build's main.main has the same code layout and lines, elsewhere.
    let stripped = try GoBinary(path: fixture.stripped)
    let strippedMain = try #require(try stripped.function(named: "main.main"))
    #expect(strippedMain.end - strippedMain.entry == main.end - main.entry)
    for offset in 0..<(main.end - main.entry) {
      let (a, b) = (
        try normal.sourceLocation(for: main.entry + offset),
        try stripped.sourceLocation(for: strippedMain.entry + offset)
      )
      #expect(a?.file == b?.file && a?.line == b?.line)
      #expect(b == nil || b?.function == strippedMain)
    }
  }

  @Test(arguments: GoToolchain.all)
  func readsOffsetsFromDWARFEqualToTheTable(_ toolchain: GoToolchain) async throws {
    let fixture = try await GoFixtures.shared.fixture(toolchain)
    let entry = try #require(fixture.entry, "\(fixture.version) is not in GoOffsetsTable")
    let fromDWARF = try GoBinary(path: fixture.normal).offsets()
    #expect(fromDWARF.source == .dwarf && fromDWARF.offsets == entry.offsets)
    let uncompressed = try GoBinary(path: fixture.uncompressed).offsets()
    #expect(uncompressed.source == .dwarf && uncompressed.offsets == entry.offsets)
    let fromTable = try GoBinary(path: fixture.stripped).offsets()
    #expect(fromTable.source == .table && fromTable.offsets == entry.offsets)
  }

  /// The offset of the `g` slot from the thread pointer is the one the runtime stores `g` at
  /// when it switches goroutines (`MOVQ DX, FS:0xfffffff8` in `gogo`), stripped or not.
  @Test(arguments: GoToolchain.all)
  func findsTheGoroutineSlotTheCodeUses(_ toolchain: GoToolchain) async throws {
    let fixture = try await GoFixtures.shared.fixture(toolchain)
    let listing = try await fixture.tool("objdump", "-s", "^gogo$", fixture.normal)
    let displacement = try #require(
      listing.split(separator: "\n").lazy.compactMap { line -> Int64? in
        guard let range = line.range(of: "FS:0x") else { return nil }
        let digits = line[range.upperBound...].prefix { $0.isHexDigit }
        return UInt32(digits, radix: 16).map { Int64(Int32(bitPattern: $0)) }
      }.first, "no FS-relative store in gogo:\n\(listing)")
    #expect(try GoBinary(path: fixture.normal).gThreadPointerOffset() == displacement)
    #expect(try GoBinary(path: fixture.stripped).gThreadPointerOffset() == displacement)
  }

  @Test(arguments: GoToolchain.all)
  func readsWaitReasonsFromTheBinary(_ toolchain: GoToolchain) async throws {
    let fixture = try await GoFixtures.shared.fixture(toolchain)
    let entry = try #require(fixture.entry, "\(fixture.version) is not in GoOffsetsTable")
    let reasons = try GoBinary(path: fixture.normal).waitReasons()
    #expect(reasons.count == entry.waitReasonCount)
    #expect(entry.waitReasonSample["chan send"] != nil)
    for (name, index) in entry.waitReasonSample {
      #expect(reasons.indices.contains(index) && reasons[index] == name)
    }
    #expect(try GoBinary(path: fixture.stripped).waitReasons() == reasons)
    let statuses = try GoBinary(path: fixture.normal).goroutineStatusNames()
    #expect(statuses.count == entry.gStatusCount)
    #expect(statuses.prefix(5) == ["idle", "runnable", "running", "syscall", "waiting"])
    #expect(try GoBinary(path: fixture.stripped).goroutineStatusNames() == statuses)
  }
}

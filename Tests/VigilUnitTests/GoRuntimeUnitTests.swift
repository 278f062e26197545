import Foundation
import Testing

@testable import GoRuntime

// The parts of the Go binary reader that need no Go toolchain.

@Test func parsesGoVersions() {
  #expect(GoVersion("go1.22.10") == GoVersion(major: 1, minor: 22, patch: 10))
  #expect(GoVersion("go1.21rc2") == GoVersion(major: 1, minor: 21, patch: 0))
  #expect(GoVersion("go1.19.8 X:boringcrypto") == GoVersion(major: 1, minor: 19, patch: 8))
  #expect(GoVersion("go1.27.3")?.description == "go1.27.3")
  for invalid in ["devel go1.23-abc", "go1", "1.22.10", "go1.x", "go", "go1.2.3.4"] {
    #expect(GoVersion(invalid) == nil, "\(invalid)")
  }
  #expect(GoVersion("go1.9.1")! < GoVersion("go1.19")!)
}

@Test func decodesVarints() throws {
  var cursor = ByteCursor([0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x7f, 0x01])
  #expect(try cursor.uleb() == 624_485)
  #expect(try cursor.sleb() == -1)
  #expect(try cursor.sleb() == -128)
  #expect(try cursor.u8() == 1 && cursor.isAtEnd)
  #expect(throws: CursorError.self) { try cursor.u8() }
  var overlong = ByteCursor([UInt8](repeating: 0xff, count: 11))
  #expect(throws: CursorError.self) { try overlong.uleb() }
  var unterminated = ByteCursor(Array("abc".utf8))
  #expect(throws: CursorError.self) { try unterminated.cString() }
}

@Test func generatedTableCoversEverySupportedRelease() throws {
  #expect(
    GoOffsetsTable.supportedReleases == [
      "go1.19", "go1.21", "go1.22", "go1.23", "go1.24", "go1.25", "go1.26", "go1.27",
    ])
  // Figures measured independently of the generator (FACTS.md).
  let go119 = try #require(GoOffsetsTable.entry(for: GoVersion(major: 1, minor: 19, patch: 13)))
  #expect(go119.offsets.g.gopc == 296 && go119.waitReasonSample["chan send"] == 15)
  #expect(go119.offsets.g.parentGoid == nil)
  let go127 = try #require(GoOffsetsTable.entry(for: GoVersion(major: 1, minor: 27, patch: 0)))
  #expect(go127.offsets.g.gopc == 288 && go127.waitReasonSample["chan send"] == 20)
  #expect(GoOffsetsTable.entry(for: GoVersion(major: 1, minor: 20, patch: 0)) == nil)

  let json = try JSONEncoder().encode(go127.offsets)
  #expect(try JSONDecoder().decode(GoOffsets.self, from: json) == go127.offsets)
}

@Test func refusesWhatIsNotAGoBinary() throws {
  #expect(throws: GoRuntimeError.notELF(path: "<memory>")) {
    try GoBinary(bytes: Array("#!/bin/sh\necho hello, this is not an ELF file at all\n".utf8))
  }
  #expect(throws: GoRuntimeError.self) { try GoBinary(path: "/nonexistent/vigil") }
  #expect(throws: GoRuntimeError.self) { try GoBinary(path: "/dev/null") }
  // This test binary is ELF, but Swift.
  let own = try GoBinary(path: CommandLine.arguments[0])
  #expect(!own.isGo && own.version == nil)
  #expect(throws: GoRuntimeError.notGo(path: CommandLine.arguments[0])) {
    try own.symbol(named: "runtime.allgs")
  }
  #expect(throws: GoRuntimeError.notGo(path: CommandLine.arguments[0])) { try own.offsets() }
}

@Test func refusesPclntabsBeforeGo118() throws {
  var header = [UInt8](repeating: 0, count: 128)
  for (format, magic) in [("Go 1.16", UInt32(0xffff_fffa)), ("Go 1.2", 0xffff_fffb)] {
    withUnsafeBytes(of: magic.littleEndian) { header.replaceSubrange(0..<4, with: $0) }
    (header[6], header[7]) = (1, 8)
    #expect(throws: GoRuntimeError.self, "\(format)") {
      try PCLNTab(data: header, path: "<memory>")
    }
  }
}

@Suite(.enabled(if: !GoToolchain.all.isEmpty, GoToolchain.skipMessage))
struct GoBuildInfoFormatTests {
  /// Rewrites Go 1.19's build info blob into the pointer format of Go 1.13–1.17, pointing at the
  /// binary's own runtime.buildVersion and runtime.modinfo strings: both must read the same.
  @Test func readsThePointerFormatOfOldGo() async throws {
    let fixture = try await GoFixtures.shared.fixture(GoToolchain.all[0])
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture.normal)))
    let original = try GoBinary(bytes: bytes)
    let image = try ELFImage(ByteSource(bytes: bytes))
    let section = try #require(image.section(named: ".go.buildinfo"))
    let version = try original.symbol(named: "runtime.buildVersion").address
    let modinfo = try original.symbol(named: "runtime.modinfo").address
    let offset = Int(section.offset)
    bytes[offset + 15] = 0  // flags: pointers, little-endian
    withUnsafeBytes(of: version.littleEndian) {
      bytes.replaceSubrange(offset + 16..<offset + 24, with: $0)
    }
    withUnsafeBytes(of: modinfo.littleEndian) {
      bytes.replaceSubrange(offset + 24..<offset + 32, with: $0)
    }
    let rewritten = try GoBinary(bytes: bytes)
    #expect(rewritten.buildInfo == original.buildInfo)
    #expect(rewritten.modulePath == GoFixtures.module)
  }
}

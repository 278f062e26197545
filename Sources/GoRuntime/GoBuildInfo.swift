/// The build information the Go linker writes into every binary (`.go.buildinfo`).
public struct GoBuildInfo: Sendable, Hashable {
  /// The toolchain, e.g. `go1.22.10`.
  public var version: String
  /// The main package's import path (`path` line), if recorded.
  public var mainPackage: String?
  /// The main module's path (`mod` line), if recorded.
  public var modulePath: String?

  static let magic: [UInt8] = [0xff] + Array(" Go buildinf:".utf8)
  /// Go searches at most this much of the data for the blob.
  static let searchLimit: UInt64 = 64 << 10

  /// Finds and decodes the blob, or nil when the image has none.
  static func read(from image: ELFImage) throws -> GoBuildInfo? {
    // Like Go's debug/buildinfo: the section, else the first writable non-executable segment.
    let start: UInt64
    let size: UInt64
    if let section = image.section(named: ".go.buildinfo") {
      (start, size) = (section.address, section.size)
    } else if let segment = image.segments.first(where: { $0.isWritable && !$0.isExecutable }) {
      (start, size) = (segment.address, segment.fileSize)
    } else {
      return nil
    }
    let data = try image.read(address: start, count: min(size, searchLimit), what: "build info")
    // The blob is 16-byte aligned and starts with a 32-byte header.
    guard
      let offset = stride(from: 0, to: data.count - 32, by: 16).first(where: {
        data[$0..<$0 + magic.count].elementsEqual(magic)
      })
    else { return nil }
    let (pointerSize, flags) = (Int(data[offset + 14]), data[offset + 15])
    let version: String
    let modinfo: [UInt8]
    if flags & 2 != 0 {
      // Go 1.18+: two uvarint-prefixed strings follow the header.
      var cursor = ByteCursor(data, offset: offset + 32)
      do {
        version = String(decoding: try cursor.bytes(cursor.uleb()), as: UTF8.self)
        modinfo = Array(try cursor.bytes(cursor.uleb()))
      } catch {
        throw image.source.malformed("build info strings run past the data")
      }
    } else {
      // Before Go 1.18: pointers to the Go strings runtime.buildVersion and runtime.modinfo.
      guard flags & 1 == 0, pointerSize == 4 || pointerSize == 8 else {
        throw GoRuntimeError.unsupported(
          path: image.source.path, reason: "build info pointer size \(pointerSize), flags \(flags)")
      }
      var cursor = ByteCursor(data, offset: offset + 16)
      do {
        let versionAddress = try cursor.unsigned(size: pointerSize)
        let modinfoAddress = try cursor.unsigned(size: pointerSize)
        version = String(
          decoding: try goString(image, at: versionAddress, pointerSize: pointerSize), as: UTF8.self
        )
        modinfo = try goString(image, at: modinfoAddress, pointerSize: pointerSize)
      } catch is CursorError {
        throw image.source.malformed("truncated build info header")
      }
    }
    guard !version.isEmpty else { throw image.source.malformed("empty Go version in build info") }
    // The module information is framed by two 16-byte binary sentinels.
    let framed = modinfo.count >= 33 && modinfo[modinfo.count - 17] == UInt8(ascii: "\n")
    let text = framed ? String(decoding: modinfo[16..<modinfo.count - 16], as: UTF8.self) : ""
    var info = GoBuildInfo(version: version)
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
      guard fields.count >= 2 else { continue }
      if fields[0] == "path" { info.mainPackage = String(fields[1]) }
      if fields[0] == "mod" { info.modulePath = String(fields[1]) }
    }
    return info
  }

  /// A Go string header (pointer, length) at `address` and the bytes it points to.
  private static func goString(_ image: ELFImage, at address: UInt64, pointerSize: Int) throws
    -> [UInt8]
  {
    var header = ByteCursor(
      try image.read(address: address, count: UInt64(2 * pointerSize), what: "Go string header"))
    let (pointer, length) = try (
      header.unsigned(size: pointerSize), header.unsigned(size: pointerSize)
    )
    guard length > 0 else { return [] }
    guard length <= 1 << 20 else { throw image.source.malformed("Go string of \(length) bytes") }
    return try image.read(address: pointer, count: length, what: "Go string")
  }
}

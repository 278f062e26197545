/// An address block such as `10.0.0.0/8` or `2001:db8::/32`, with its host bits clear.
public struct IPPrefix: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
  /// The first address of the block.
  public let address: IPAddress
  /// The prefix length within the family: 0...32 for IPv4, 0...128 for IPv6.
  public let length: Int

  /// The block of `length` leading bits of `address`; host bits are cleared.
  public init(address: IPAddress, length: Int) {
    precondition(length >= 0 && length <= (address.isIPv4 ? 32 : 128), "prefix length")
    self.address = address.masked(to: (address.isIPv4 ? 96 : 0) + length)
    self.length = length
  }

  /// Parses `address/length`, refusing host bits, over-long lengths and IPv4-mapped IPv6 blocks.
  public init(_ text: String) throws(AddressSyntaxError) {
    if let prefix = Self.plainIPv4(text) {
      self = prefix
      return
    }
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard let parsed = IPAddress.parse(String(parts[0])) else {
      throw AddressSyntaxError(text: text, reason: "is not a CIDR block (address/length)")
    }
    let family = parsed.address.isIPv4 && !parsed.writtenAsIPv6 ? 32 : 128
    guard parts.count == 2 else {
      throw AddressSyntaxError(
        text: text,
        reason: parts.count == 1
          ? "has no prefix length (write \(text)/\(family) for one address)"
          : "is not a CIDR block (address/length)")
    }
    guard parts[1].allSatisfy(\.isASCIIDigit), parts[1].count <= 3, let length = Int(parts[1])
    else {
      throw AddressSyntaxError(text: text, reason: "has an invalid prefix length")
    }
    guard length <= family else {
      throw AddressSyntaxError(text: text, reason: "has a prefix longer than \(family)")
    }
    if family == 128 && length >= 96 && parsed.address.isIPv4 {
      let prefix = IPPrefix(address: parsed.address, length: length - 96)
      throw AddressSyntaxError(
        text: text, reason: "is an IPv4-mapped block (write it as \(prefix))")
    }
    self.init(address: parsed.address, length: length)
    guard address == parsed.address else {
      throw AddressSyntaxError(text: text, reason: "has host bits set (did you mean \(self)?)")
    }
  }

  /// `a.b.c.d/n` read without allocating, when written as `inet_pton` reads it and without host
  /// bits; nil for anything else, which the full parser reads or refuses with a reason.
  private static func plainIPv4(_ text: String) -> IPPrefix? {
    var text = text
    return text.withUTF8 { plainIPv4(utf8: $0) }
  }

  /// `plainIPv4` of UTF-8 text: four decimal octets (no leading zeros), `/`, 1-3 digits.
  static func plainIPv4(utf8 text: UnsafeBufferPointer<UInt8>) -> IPPrefix? {
    var index = 0
    var address: UInt32 = 0
    for octets in 1...4 {
      let separator = UInt8(ascii: octets == 4 ? "/" : ".")
      let start = index
      guard let octet = decimal(text, at: &index, digits: 3), octet <= 255,
        index - start == 1 || text[start] != UInt8(ascii: "0"),
        index < text.count, text[index] == separator
      else { return nil }
      address = address << 8 | octet
      index += 1
    }
    guard let length = decimal(text, at: &index, digits: 3), index == text.count, length <= 32,
      length == 32 || address & (UInt32.max >> length) == 0
    else { return nil }
    return IPPrefix(address: IPAddress(ipv4: address), length: Int(length))
  }

  /// The 1 to `digits` ASCII digits at `index`, moving past them; nil when there are none.
  @inline(__always)
  private static func decimal(
    _ text: UnsafeBufferPointer<UInt8>, at index: inout Int, digits: Int
  ) -> UInt32? {
    let start = index
    var value: UInt32 = 0
    while index < text.count, index - start < digits {
      let digit = text[index] &- UInt8(ascii: "0")
      guard digit < 10 else { break }
      value = value * 10 + UInt32(digit)
      index += 1
    }
    return index > start ? value : nil
  }

  /// The IPv4 block `0.0.0.0/0`, which is `::ffff:0:0/96` in the datapath.
  public static let anyIPv4 = IPPrefix(address: IPAddress(ipv4: 0), length: 0)
  /// The IPv6 block `::/0`.
  public static let anyIPv6 = IPPrefix(address: IPAddress(high: 0, low: 0), length: 0)

  /// Whether this is an IPv4 block.
  public var isIPv4: Bool { address.isIPv4 }

  /// The prefix length over the 128-bit mapped address (IPv4 blocks are under ::ffff:0:0/96).
  public var mappedLength: Int { isIPv4 ? 96 + length : length }

  /// The last address of the block.
  public var lastAddress: IPAddress { address.filled(from: mappedLength) }

  /// Whether `address` is in this block and of its family (`::/0` holds no IPv4 address).
  public func contains(_ address: IPAddress) -> Bool {
    address.isIPv4 == isIPv4 && address.masked(to: mappedLength) == self.address
  }

  /// Whether `other` is this block or inside it, regardless of family, as the datapath nests.
  func nests(_ other: IPPrefix) -> Bool {
    other.mappedLength >= mappedLength && other.address.masked(to: mappedLength) == address
  }

  public var description: String { "\(address)/\(length)" }

  /// Trie order: by first address, then outer blocks before inner ones.
  public static func < (left: IPPrefix, right: IPPrefix) -> Bool {
    (left.address, left.mappedLength) < (right.address, right.mappedLength)
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
      try self.init(text)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// Text that is not a valid address block, and why.
public struct AddressSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The text as written.
  public var text: String
  /// What is wrong, phrased to follow the text.
  public var reason: String

  public var description: String { "\(text) \(reason)" }
}

extension Character {
  fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

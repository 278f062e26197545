import Glibc

/// An IPv4 or IPv6 address as the datapath sees it: 128 bits, IPv4 mapped as `::ffff:a.b.c.d`.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
  /// The first 64 bits, most significant first.
  public let high: UInt64
  /// The last 64 bits, most significant first.
  public let low: UInt64

  /// An address from its two halves.
  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// The IPv4 address `bits` (host order), mapped.
  public init(ipv4 bits: UInt32) {
    self.init(high: 0, low: 0xffff_0000_0000 | UInt64(bits))
  }

  /// Parses dotted IPv4 or IPv6 text; nil when it is neither.
  public init?(_ text: String) {
    guard let parsed = Self.parse(text) else { return nil }
    self = parsed.address
  }

  /// Whether this is a (mapped) IPv4 address.
  public var isIPv4: Bool { high == 0 && low >> 32 == 0xffff }

  /// The 16 bytes in network order.
  public var bytes: [UInt8] {
    (0..<16).map { index in
      let half = index < 8 ? high : low
      return UInt8(truncatingIfNeeded: half >> (56 - 8 * UInt64(index % 8)))
    }
  }

  /// The address from 16 bytes in network order.
  public init<Bytes: Collection<UInt8>>(bytes: Bytes) {
    precondition(bytes.count == 16, "an address has 16 bytes")
    let words = bytes.reduce(into: (UInt64(0), UInt64(0))) { words, byte in
      words = (words.0 << 8 | words.1 >> 56, words.1 << 8 | UInt64(byte))
    }
    self.init(high: words.0, low: words.1)
  }

  /// Dotted text for IPv4, RFC 5952 text for IPv6.
  public var description: String {
    if isIPv4 {
      let octet = { (shift: UInt64) in UInt8(truncatingIfNeeded: self.low >> shift) }
      return "\(octet(24)).\(octet(16)).\(octet(8)).\(octet(0))"
    }
    var address = in6_addr()
    withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return "?" }
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public static func < (left: IPAddress, right: IPAddress) -> Bool {
    (left.high, left.low) < (right.high, right.low)
  }

  /// This address with all but the first `bits` bits cleared.
  func masked(to bits: Int) -> IPAddress {
    IPAddress(
      high: bits >= 64 ? high : high & ~(UInt64.max >> bits),
      low: bits <= 64 ? 0 : low & ~(UInt64.max >> (bits - 64)))
  }

  /// This address with all but the first `bits` bits set.
  func filled(from bits: Int) -> IPAddress {
    IPAddress(
      high: bits >= 64 ? high : high | (UInt64.max >> bits),
      low: bits <= 64 ? UInt64.max : low | (UInt64.max >> (bits - 64)))
  }

  /// The address and whether it was written in IPv6 syntax.
  static func parse(_ text: String) -> (address: IPAddress, writtenAsIPv6: Bool)? {
    if text.contains(":") {
      var address = in6_addr()
      guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
      return (withUnsafeBytes(of: address) { IPAddress(bytes: $0) }, true)
    }
    var address = in_addr()
    guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
    return (IPAddress(ipv4: UInt32(bigEndian: address.s_addr)), false)
  }
}

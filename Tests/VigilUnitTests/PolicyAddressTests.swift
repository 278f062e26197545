import Policy
import Testing

@Suite struct PolicyAddressTests {
  @Test func parsesAndFormatsAddresses() throws {
    let v4 = try #require(IPAddress("10.1.2.3"))
    #expect(v4.isIPv4)
    #expect(v4.description == "10.1.2.3")
    #expect(v4.bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3])
    let v6 = try #require(IPAddress("2001:DB8:0:0::1"))
    #expect(!v6.isIPv4)
    #expect(v6.description == "2001:db8::1")
    #expect(IPAddress(bytes: v6.bytes) == v6)
    #expect(IPAddress("::ffff:10.1.2.3") == v4)
    for bad in ["", "10.1.2", "10.1.2.256", "1::2::3", "010.1.2.3", "eth0"] {
      #expect(IPAddress(bad) == nil, "\(bad)")
    }
  }

  @Test func parsesPrefixes() throws {
    #expect(try IPPrefix("10.0.0.0/8").description == "10.0.0.0/8")
    #expect(try IPPrefix("10.0.0.0/8").mappedLength == 104)
    #expect(try IPPrefix("2001:db8::/32").mappedLength == 32)
    #expect(try IPPrefix("0.0.0.0/0") == .anyIPv4)
    #expect(try IPPrefix("::/0") == .anyIPv6)
    #expect(try IPPrefix("::/0").contains(IPAddress("2001:db8::1")!))
    #expect(try !IPPrefix("::/0").contains(IPAddress("10.0.0.1")!))
    #expect(try !IPPrefix("0.0.0.0/0").contains(IPAddress("::1")!))
    #expect(try IPPrefix("10.0.0.0/8").lastAddress == IPAddress("10.255.255.255"))
    let errors: [(String, String)] = [
      ("10.0.0.1/8", "10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)"),
      ("10.0.0.0/33", "10.0.0.0/33 has a prefix longer than 32"),
      ("::/129", "::/129 has a prefix longer than 128"),
      ("10.0.0.1", "10.0.0.1 has no prefix length (write 10.0.0.1/32 for one address)"),
      ("10.0.0/8", "10.0.0/8 is not a CIDR block (address/length)"),
      ("10.0.0.0/8/8", "10.0.0.0/8/8 is not a CIDR block (address/length)"),
      ("10.0.0.0/-1", "10.0.0.0/-1 has an invalid prefix length"),
      ("10.0.0.0/", "10.0.0.0/ has an invalid prefix length"),
      ("010.0.0.0/8", "010.0.0.0/8 is not a CIDR block (address/length)"),
      ("10.0.0.0/0008", "10.0.0.0/0008 has an invalid prefix length"),
      (
        "::ffff:10.0.0.0/104",
        "::ffff:10.0.0.0/104 is an IPv4-mapped block (write it as 10.0.0.0/8)"
      ),
    ]
    for (text, message) in errors {
      #expect(performing: { try IPPrefix(text) }, throws: { "\($0)" == message })
    }
  }

  /// IPv4 blocks take a shortcut; it must agree with `inet_pton` and the checks after it.
  @Test func readsIPv4BlocksAsInetPtonDoes() {
    var random = SystemRandomNumberGenerator()
    let octets = ["0", "1", "9", "10", "00", "01", "127", "255", "256", "999", ""]
    let lengths = ["0", "8", "08", "008", "24", "32", "33", "", "1a"]
    for _ in 0..<2000 {
      let address = (0..<Int.random(in: 3...5, using: &random)).map { _ in
        octets.randomElement(using: &random)!
      }.joined(separator: ".")
      let lengthText = lengths.randomElement(using: &random)!
      let text = "\(address)/\(lengthText)"
      var expected: IPPrefix?
      if let parsed = IPAddress(address), parsed.isIPv4, !lengthText.isEmpty,
        lengthText.count <= 3, lengthText.allSatisfy { ("0"..."9").contains($0) },
        let length = Int(lengthText),
        length <= 32
      {
        let prefix = IPPrefix(address: parsed, length: length)
        expected = prefix.address == parsed ? prefix : nil
      }
      #expect((try? IPPrefix(text)) == expected, "\(text)")
    }
  }
}

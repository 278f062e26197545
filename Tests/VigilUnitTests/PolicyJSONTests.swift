import ControlAPI
import Foundation
import Testing

@testable import Agent

@Suite struct PolicyJSONTests {
  /// Texts with everything JSON escapes, and what it need not.
  static let texts = [
    "", "web.yaml", "a: \"b\"\n\tc: 'd\\e'\r\n", "/sys/fs/cgroup/web.slice", "größe → 🙂",
    "\u{0}\u{1}\u{1f}\u{7f}", String(repeating: "- {cidr: 10.0.0.0/8}\n", count: 500),
  ]

  @Test func requestsRoundTripThroughBothCoders() throws {
    for text in Self.texts {
      let request = PolicyRequest(sources: [
        PolicySource(source: text, yaml: text), PolicySource(source: "b.yaml", yaml: "x"),
      ])
      let json = try WireJSON.encode(request)
      #expect(try WireJSON.decode(PolicyRequest.self, from: json) == request)
      #expect(try PolicyJSON.decodeRequest(json) == request, "\(text.debugDescription)")
    }
  }

  @Test func readsOtherShapesWithFoundation() throws {
    let spaced = Array(
      #" { "sources" : [ { "yaml" : "a\u00e9\ud83d\ude42\/" , "source" : "s" } ] } "#.utf8)
    #expect(
      try PolicyJSON.decodeRequest(spaced)
        == PolicyRequest(sources: [PolicySource(source: "s", yaml: "aé🙂/")]))
    let extraKey = Array(#"{"sources":[],"dryRun":true}"#.utf8)
    #expect(try PolicyJSON.decodeRequest(extraKey) == PolicyRequest(sources: []))
    for bad in [#"{"sources":[{"source":"s"}]}"#, #"{"sources":"#, "[]", #"{"sources":["\x"]}"#] {
      #expect(throws: DecodingError.self, "\(bad)") {
        try PolicyJSON.decodeRequest(Array(bad.utf8))
      }
    }
  }
}

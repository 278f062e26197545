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
      // The request as `appendSources` writes it (the stored generations' sources).
      var fast = Array(#"{"sources":"#.utf8)
      PolicyJSON.appendSources(request.sources, to: &fast)
      fast.append(UInt8(ascii: "}"))
      #expect(fast == (try WireJSON.encode(request)), "\(text.debugDescription)")
      #expect(try WireJSON.decode(PolicyRequest.self, from: fast) == request)
      #expect(try PolicyJSON.decodeRequest(try WireJSON.encode(request)) == request)
      #expect(try PolicyJSON.decodeRequest(fast) == request)
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

  @Test func storedGenerationsReadBackAsWritten() throws {
    for text in Self.texts {
      let record = StoredGeneration(
        generation: 7, appliedAt: "2026-11-27T00:00:00Z", origin: "rollback to 3",
        sources: [PolicySource(source: "web.yaml", yaml: text)],
        endpoints: [StoredEndpoint(endpoint: .cgroup(path: "/sys/fs/cgroup/a"), id: 2)])
      let json = StoredGeneration.jsonHead(sources: record.sources) + (try record.jsonTail())
      #expect(try WireJSON.decode(StoredGeneration.self, from: json) == record)
    }
  }
}

import Policy
import Testing

@Suite struct PolicyDiffTests {
  @Test func reportsAddedRemovedAndChangedPolicies() throws {
    let old = try PolicyDocument.parse(yaml: examplePolicyYAML, source: "old.yaml")[0]
    var changed = old
    changed.mode = .audit
    changed.ingress[0].ports = [PortSpec(port: 443)]
    changed.egress.append(PolicyRule())
    changed.ingressDeny = [PolicyRule(peers: [IPBlock(cidr: policyPrefix("10.9.0.0/16"))])]
    let gone = PolicyDocument(name: "gone", endpoint: .cgroup(path: "/sys/fs/cgroup/a"))
    let added = PolicyDocument(
      name: "added", endpoint: .interface(name: "eth1", netns: nil), policyTypes: [],
      egressDeny: [PolicyRule(), PolicyRule()])

    let changes = PolicyDiff.between(old: [old, gone], new: [added, changed])
    #expect(changes.map(\.name) == ["added", "gone", "web"])
    #expect(changes.map(\.kind) == [.added, .removed, .changed])
    #expect(
      changes.map(\.description) == [
        "added \"added\": eth1, enforce, no policyTypes, 2 egressDeny rules",
        "removed \"gone\": /sys/fs/cgroup/a, enforce, Ingress",
        "changed \"web\": spec.mode: enforce → audit; "
          + "spec.ingress[0]: 10.0.0.0/8 except 10.1.0.0/16 on TCP/80, TCP/8000-8100 → "
          + "10.0.0.0/8 except 10.1.0.0/16 on TCP/443; "
          + "spec.egress[1]: added any address on any port; "
          + "spec.ingressDeny[0]: added 10.9.0.0/16 on any port",
      ])
  }

  @Test func unchangedPoliciesAreNotReported() throws {
    let documents = try PolicyDocument.parse(yaml: examplePolicyYAML, source: "web.yaml")
    #expect(PolicyDiff.between(old: documents, new: documents) == [])
    var moved = documents[0]
    moved.endpoint = .interface(name: "eth0", netns: nil)
    moved.policyTypes = [.ingress]
    moved.egress = []
    #expect(
      PolicyDiff.between(old: documents, new: [moved]).map(\.details) == [
        [
          "spec.endpoint: eth0@web → eth0", "spec.policyTypes: [Ingress, Egress] → [Ingress]",
          "spec.egress[0]: removed ::/0 on UDP/53",
        ]
      ])
  }

  @Test func listsTheFirstDifferencesAndCountsTheRest() throws {
    let old = PolicyDocument(
      name: "web", endpoint: .interface(name: "eth0", netns: nil),
      ingress: (0..<30).map { PolicyRule(ports: [PortSpec(port: UInt16(1000 + $0))]) })
    var new = old
    new.mode = .audit
    for index in new.ingress.indices where index != 3 { new.ingress[index].ports = [] }
    new.egress = [PolicyRule()]
    let details = try #require(PolicyDiff.between(old: [old], new: [new]).first?.details)
    #expect(details.count == PolicyDiff.maxDetails + 1)
    #expect(details[0] == "spec.mode: enforce → audit")
    #expect(details[1] == "spec.ingress[0]: any address on TCP/1000 → any address on any port")
    #expect(details[4] == "spec.ingress[4]: any address on TCP/1004 → any address on any port")
    // 31 in all: the mode, 29 ingress rules, an egress rule added.
    #expect(details.last == "… and \(31 - PolicyDiff.maxDetails) more differences")
  }
}

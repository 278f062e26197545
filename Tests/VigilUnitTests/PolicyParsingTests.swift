import Foundation
import Policy
import Testing

/// The example document of the policy format.
let examplePolicyYAML = """
  apiVersion: vigil/v1
  kind: NetworkPolicy
  metadata: {name: web}
  spec:
    endpoint: {interface: eth0, netns: web}
    mode: enforce
    policyTypes: [Ingress, Egress]
    ingress:
      - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
        ports: [{protocol: TCP, port: 80}, {protocol: TCP, port: 8000, endPort: 8100}]
    egress:
      - to: [{ipBlock: {cidr: "::/0"}}]
        ports: [{protocol: UDP, port: 53}]
    ingressDeny: []
    egressDeny: []
  """

/// A prefix written in a test, which must parse.
func policyPrefix(_ text: String) -> IPPrefix {
  do { return try IPPrefix(text) } catch { fatalError("\(error)") }
}

@Suite struct PolicyParsingTests {
  @Test func readsTheExample() throws {
    let documents = try PolicyDocument.parse(yaml: examplePolicyYAML, source: "web.yaml")
    let expected = PolicyDocument(
      name: "web", endpoint: .interface(name: "eth0", netns: "web"), mode: .enforce,
      policyTypes: [.ingress, .egress],
      ingress: [
        PolicyRule(
          peers: [IPBlock(cidr: policyPrefix("10.0.0.0/8"), except: [policyPrefix("10.1.0.0/16")])],
          ports: [PortSpec(.tcp, port: 80), PortSpec(.tcp, port: 8000, endPort: 8100)])
      ],
      egress: [
        PolicyRule(peers: [IPBlock(cidr: policyPrefix("::/0"))], ports: [PortSpec(.udp, port: 53)])
      ])
    #expect(documents == [expected])
  }

  @Test func appliesKubernetesDefaults() throws {
    let yaml = """
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: a}
      spec:
        endpoint: {cgroup: /sys/fs/cgroup/unified/web.slice}
        ingress: [{}]
        egress: [{ports: [{port: 443}, {protocol: UDP}]}]
      ---
      apiVersion: vigil/v1
      kind: NetworkPolicy
      metadata: {name: b}
      spec:
        endpoint: {interface: eth1}
        policyTypes: []
        ingressDeny: [{from: [{ipBlock: {cidr: 192.168.0.0/16}}]}]
      """
    let documents = try PolicyDocument.parse(yaml: yaml, source: "defaults.yaml")
    #expect(documents.map(\.name) == ["a", "b"])
    #expect(documents[0].mode == .enforce)
    #expect(documents[0].policyTypes == [.ingress, .egress])
    #expect(documents[0].ingress == [PolicyRule()])
    #expect(documents[0].egress[0].ports == [PortSpec(.tcp, port: 443), PortSpec(.udp)])
    #expect(documents[1].endpoint == .interface(name: "eth1", netns: nil))
    #expect(documents[1].policyTypes == [])
    let onlyIngress = try PolicyDocument.parse(
      yaml: "apiVersion: vigil/v1\nkind: NetworkPolicy\nmetadata: {name: c}\n"
        + "spec: {endpoint: {interface: eth0}, egressDeny: [{}]}\n",
      source: "c.yaml")
    #expect(onlyIngress[0].policyTypes == [.ingress])
  }

  @Test func skipsEmptyDocumentsButCountsThem() throws {
    let yaml = "---\n# nothing\n---\n" + examplePolicyYAML + "\n---\n"
    #expect(try PolicyDocument.parse(yaml: yaml, source: "x.yaml").map(\.name) == ["web"])
    let broken = "---\n---\n" + examplePolicyYAML.replacingOccurrences(of: "eth0", with: "\"\"")
    #expect(throws: PolicyError.self) { try PolicyDocument.parse(yaml: broken, source: "x.yaml") }
    do {
      _ = try PolicyDocument.parse(yaml: broken, source: "x.yaml")
    } catch {
      #expect(error.document == 2)
      #expect(
        error.description == "x.yaml: policy \"web\": spec.endpoint.interface: must not be empty")
    }
  }

  @Test func canonicalJSONRoundTripsThroughTheStrictParser() throws {
    let documents = try PolicyDocument.parse(yaml: examplePolicyYAML, source: "web.yaml")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let json = String(decoding: try encoder.encode(documents[0]), as: UTF8.self)
    #expect(
      json
        == #"{"apiVersion":"vigil\/v1","kind":"NetworkPolicy","metadata":{"name":"web"},"#
        + #""spec":{"egress":[{"ports":[{"port":53,"protocol":"UDP"}],"to":[{"ipBlock":{"cidr":"::\/0"}}]}],"#
        + #""endpoint":{"interface":"eth0","netns":"web"},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0\/8","#
        + #""except":["10.1.0.0\/16"]}}],"ports":[{"port":80,"protocol":"TCP"},"#
        + #"{"endPort":8100,"port":8000,"protocol":"TCP"}]}],"mode":"enforce","policyTypes":["Ingress","Egress"]}}"#
    )
    #expect(try JSONDecoder().decode(PolicyDocument.self, from: Data(json.utf8)) == documents[0])
    #expect(try PolicyDocument.parse(yaml: json, source: "api") == documents)
  }

  @Test func decodingValidates() {
    let json = #"""
      {"apiVersion":"vigil/v1","kind":"NetworkPolicy","metadata":{"name":"web"},
       "spec":{"endpoint":{"cgroup":"web.slice"},"mode":"enforce","policyTypes":[]}}
      """#
    #expect(throws: PolicyError.self) {
      try JSONDecoder().decode(PolicyDocument.self, from: Data(json.utf8))
    }
    let misplaced = #"""
      {"apiVersion":"vigil/v1","kind":"NetworkPolicy","metadata":{"name":"web"},
       "spec":{"endpoint":{"interface":"eth0"},"ingress":[{"to":[{"ipBlock":{"cidr":"::/0"}}]}]}}
      """#
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(PolicyDocument.self, from: Data(misplaced.utf8))
    }
  }

  @Test func describesRulesAndEndpoints() throws {
    let document = try PolicyDocument.parse(yaml: examplePolicyYAML, source: "web.yaml")[0]
    #expect(
      document.ingress[0].description
        == "10.0.0.0/8 except 10.1.0.0/16 on TCP/80, TCP/8000-8100")
    #expect(PolicyRule().description == "any address on any port")
    #expect(document.endpoint.description == "eth0@web")
    #expect(EndpointRef.cgroup(path: "/sys/fs/cgroup/a").description == "/sys/fs/cgroup/a")
  }
}

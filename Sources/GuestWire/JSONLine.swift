/// A small Foundation-free JSON encoder for `Encodable` values, so the static
/// guest driver can emit the shared record type without carrying Foundation
/// (which would double the initramfs). Output is one line with keys sorted,
/// matching the host's `JSONEncoder` with `.sortedKeys`. Non-finite doubles
/// become `null`.
public enum JSONLine {
    public static func encode(_ value: some Encodable) throws -> String {
        let encoder = TreeEncoder()
        try value.encode(to: encoder)
        var out = ""
        encoder.root.value.write(to: &out)
        return out
    }
}

/// JSON tree with reference-typed containers, so nested containers handed
/// out by the encoder write straight into their parent.
enum JSONNode {
    case null, bool(Bool), int(String), double(Double), string(String)
    case array(ArrayBox), object(ObjectBox)

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let s): out += s
        case .double(let d):
            if !d.isFinite { out += "null" } else if d == d.rounded(), abs(d) < 1e15 { out += String(Int64(d)) } else { out += d.description }
        case .string(let s): JSONNode.writeString(s, to: &out)
        case .array(let a):
            out += "["
            for (i, e) in a.items.enumerated() {
                if i > 0 { out += "," }
                e.write(to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.items.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out += "," }
                JSONNode.writeString(k, to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

final class ArrayBox {
    var items: [JSONNode] = []
}

final class ObjectBox {
    var items: [String: JSONNode] = [:]
}

/// Holds the value a `TreeEncoder` produced.
final class NodeBox {
    var value: JSONNode = .null
}

final class TreeEncoder: Encoder {
    let root = NodeBox()
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object(let o) = root.value { return KeyedEncodingContainer(KeyedNodeContainer<Key>(object: o)) }
        let o = ObjectBox()
        root.value = .object(o)
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(object: o))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let a) = root.value { return UnkeyedNodeContainer(array: a) }
        let a = ArrayBox()
        root.value = .array(a)
        return UnkeyedNodeContainer(array: a)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNodeContainer(box: root) }

    static func node(for value: some Encodable) throws -> JSONNode {
        switch value {
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as Double: return .double(v)
        case let v as Float: return .double(Double(v))
        case let v as Int: return .int(String(v))
        case let v as Int64: return .int(String(v))
        case let v as Int32: return .int(String(v))
        case let v as UInt: return .int(String(v))
        case let v as UInt64: return .int(String(v))
        case let v as UInt32: return .int(String(v))
        case let v as UInt16: return .int(String(v))
        case let v as UInt8: return .int(String(v))
        default:
            let e = TreeEncoder()
            try value.encode(to: e)
            return e.root.value
        }
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: ObjectBox
    var codingPath: [any CodingKey] = []

    mutating func encodeNil(forKey key: Key) throws { object.items[key.stringValue] = .null }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        object.items[key.stringValue] = try TreeEncoder.node(for: value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = ObjectBox()
        object.items[key.stringValue] = .object(child)
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(object: child))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = ArrayBox()
        object.items[key.stringValue] = .array(child)
        return UnkeyedNodeContainer(array: child)
    }

    mutating func superEncoder() -> any Encoder { TreeEncoder() }
    mutating func superEncoder(forKey key: Key) -> any Encoder { TreeEncoder() }
}

struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let array: ArrayBox
    var codingPath: [any CodingKey] = []
    var count: Int { array.items.count }

    mutating func encodeNil() throws { array.items.append(.null) }
    mutating func encode(_ value: some Encodable) throws { array.items.append(try TreeEncoder.node(for: value)) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = ObjectBox()
        array.items.append(.object(child))
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(object: child))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = ArrayBox()
        array.items.append(.array(child))
        return UnkeyedNodeContainer(array: child)
    }
    mutating func superEncoder() -> any Encoder { TreeEncoder() }
}

struct SingleNodeContainer: SingleValueEncodingContainer {
    let box: NodeBox
    var codingPath: [any CodingKey] = []
    mutating func encodeNil() throws { box.value = .null }
    mutating func encode(_ value: some Encodable) throws { box.value = try TreeEncoder.node(for: value) }
}

/// The attributes of one node, read by name with their ONNX defaults; every attribute the
/// importer does not know is refused by name, so nothing is silently ignored.
struct ONNXAttributes {
    let node: Onnx_NodeProto
    let file: String
    private let byName: [String: Onnx_AttributeProto]

    init(_ node: Onnx_NodeProto, file: String, known: Set<String>) throws {
        self.node = node
        self.file = file
        var map: [String: Onnx_AttributeProto] = [:]
        for a in node.attribute {
            guard known.contains(a.name) else {
                throw ONNXError.node(.unsupportedAttribute, node, file: file, "attribute '\(a.name)' is not supported")
            }
            map[a.name] = a
        }
        byName = map
    }

    func has(_ name: String) -> Bool { byName[name] != nil }

    func int(_ name: String, default value: Int) throws -> Int {
        guard let a = byName[name] else { return value }
        guard a.type == .int || (a.type == .undefined && a.hasI) else { throw wrongType(name, "an integer") }
        guard abs(a.i) < 1 << 31 else { throw unsupported(name, "\(a.i)") }
        return Int(a.i)
    }

    func ints(_ name: String) throws -> [Int]? {
        guard let a = byName[name] else { return nil }
        guard a.type == .ints || (a.type == .undefined && !a.ints.isEmpty) else { throw wrongType(name, "a list of integers") }
        guard a.ints.allSatisfy({ abs($0) < 1 << 31 }), a.ints.count <= 16 else { throw unsupported(name, "\(a.ints)") }
        return a.ints.map { Int($0) }
    }

    func float(_ name: String, default value: Float) throws -> Float {
        guard let a = byName[name] else { return value }
        guard a.type == .float || (a.type == .undefined && a.hasF) else { throw wrongType(name, "a float") }
        return a.f
    }

    func string(_ name: String, default value: String) throws -> String {
        guard let a = byName[name] else { return value }
        guard a.type == .string || (a.type == .undefined && a.hasS) else { throw wrongType(name, "a string") }
        return String(decoding: a.s, as: UTF8.self)
    }

    func tensor(_ name: String) throws -> Onnx_TensorProto? {
        guard let a = byName[name] else { return nil }
        guard a.type == .tensor || (a.type == .undefined && a.hasT) else { throw wrongType(name, "a tensor") }
        return a.t
    }

    /// An attribute value the engine cannot run.
    func unsupported(_ name: String, _ value: String, _ why: String = "") -> ONNXError {
        ONNXError.node(.unsupportedAttribute, node, file: file, "attribute '\(name)' = \(value) is not supported\(why.isEmpty ? "" : ": \(why)")")
    }

    private func wrongType(_ name: String, _ expected: String) -> ONNXError {
        ONNXError.node(.malformed, node, file: file, "attribute '\(name)' is not \(expected)")
    }
}

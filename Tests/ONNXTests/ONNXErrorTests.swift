import Foundation
@testable import ONNX
import XCTest

/// Malformed files and graphs outside what the engine runs are refused with an `ONNXError`
/// naming the first problem (for an operator or attribute: the node's name and op type), never a crash.
final class ONNXErrorTests: XCTestCase {
    private func fixtureProto(_ name: String = "fmnist-cnn") throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: Fixture.onnx(name))))
    }

    private func importError(_ model: Onnx_ModelProto, file: StaticString = #filePath, line: UInt = #line) throws -> ONNXError {
        try importError(try model.serializedData(), file: file, line: line)
    }

    private func importError(_ data: Data, file: StaticString = #filePath, line: UInt = #line) throws -> ONNXError {
        do {
            _ = try ONNXImport.model(from: data, label: "test.onnx")
        } catch let error as ONNXError {
            XCTAssertEqual(error.file, "test.onnx", file: file, line: line)
            return error
        }
        XCTFail("the import succeeded", file: file, line: line)
        throw XCTSkip("no error to inspect")
    }

    func testMalformedBytesAreRefused() throws {
        XCTAssertEqual(try importError(Data("not a protobuf at all".utf8)).kind, .malformed)
        XCTAssertEqual(try importError(Data()).kind, .malformed)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixture.onnx("fmnist-cnn")))
        XCTAssertEqual(try importError(bytes.prefix(bytes.count / 2)).kind, .malformed)
        XCTAssertThrowsError(try ONNXImport.load(path: "/nonexistent/model.onnx")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/model.onnx"), "\(error)")
        }
    }

    func testDamagedBytesNeverCrash() throws {
        // Flipped bytes anywhere in a real file: an error or a model, each time.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixture.onnx("resnet-8")))
        var g = SystemRandomNumberGenerator()
        var refused = 0
        for _ in 0..<150 {
            var damaged = bytes
            for _ in 0..<4 { damaged[Int.random(in: 0..<damaged.count, using: &g)] = UInt8.random(in: 0...255, using: &g) }
            do { _ = try ONNXImport.model(from: damaged, label: "damaged.onnx") } catch is ONNXError { refused += 1 }
        }
        print("damaged copies refused: \(refused) of 150")
    }

    func testUnsupportedOperatorIsNamedWithItsNode() throws {
        var model = try fixtureProto()
        let index = try XCTUnwrap(model.graph.node.firstIndex { $0.opType == "Relu" })
        model.graph.node[index].opType = "Erf"
        let error = try importError(model)
        XCTAssertEqual(error.kind, .unsupportedOperator)
        XCTAssertTrue(error.problem.contains("'/net/net.1/Relu'") && error.problem.contains("Erf"), error.problem)
    }

    func testUnsupportedAttributeIsNamedWithItsNode() throws {
        var model = try fixtureProto()
        let index = try XCTUnwrap(model.graph.node.firstIndex { $0.opType == "Conv" })
        var dilations = Onnx_AttributeProto()
        dilations.name = "dilations"
        dilations.type = .ints
        dilations.ints = [2, 2]
        model.graph.node[index].attribute.removeAll { $0.name == "dilations" }
        model.graph.node[index].attribute.append(dilations)
        let error = try importError(model)
        XCTAssertEqual(error.kind, .unsupportedAttribute)
        XCTAssertTrue(error.problem.contains("/net/net.0/Conv") && error.problem.contains("(Conv)") && error.problem.contains("dilations"), error.problem)

        var unknown = try fixtureProto()
        let pool = try XCTUnwrap(unknown.graph.node.firstIndex { $0.opType == "MaxPool" })
        var extra = Onnx_AttributeProto()
        extra.name = "mystery"
        extra.type = .int
        unknown.graph.node[pool].attribute.append(extra)
        let second = try importError(unknown)
        XCTAssertTrue(second.problem.contains("(MaxPool)") && second.problem.contains("'mystery'"), second.problem)
    }

    func testGraphsOutsideTheImportAreRefused() throws {
        var old = try fixtureProto()
        old.opsetImport[0].version = 9
        XCTAssertTrue(try importError(old).problem.contains("opset 9"))

        var noGemm = try fixtureProto()
        let gemms = noGemm.graph.node.indices.filter { noGemm.graph.node[$0].opType == "Gemm" }
        XCTAssertEqual(gemms.count, 2)
        // A graph cut after the convolutions has no Gemm to take the features from.
        noGemm.graph.node.removeSubrange(gemms[0]...)
        noGemm.graph.output[0].name = noGemm.graph.node.last!.output[0]
        XCTAssertTrue(try importError(noGemm).problem.contains("--features"))

        XCTAssertThrowsError(try ONNXImport.load(path: Fixture.onnx("fmnist-cnn"), options: ONNXImportOptions(features: "no-such-node"))) { error in
            XCTAssertEqual((error as? ONNXError)?.kind, .invalidOption)
        }
        XCTAssertThrowsError(try ONNXImport.load(path: Fixture.onnx("fmnist-cnn"), options: ONNXImportOptions(inputShape: [3, 28, 28]))) { error in
            XCTAssertTrue("\(error)".contains("[3, 28, 28]"), "\(error)")
        }
    }
}

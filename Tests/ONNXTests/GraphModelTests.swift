import NeuralNet
import ONNX
import TensorEngine
import Training
import XCTest

/// A graph model runs like the reference architectures: folded convolutions at inference with
/// the values of running node by node, evaluation mode reaching its batch norms, gradients
/// reaching its tensors.
final class GraphModelTests: XCTestCase {
    func testFoldedInferenceMatchesNodeByNode() throws {
        for name in Fixture.names {
            let model = try ONNXImport.load(path: Fixture.onnx(name), options: Fixture.options(name)).model
            let x = model.normalized(try Fixture.expected(name).pixels)
            model.classifier.eval()
            let folded = Autograd.inference { model.classifier.forwardWithFeatures(x) }
            let nodeByNode = model.classifier.forwardWithFeatures(x)   // recording: no folding
            let d = maxDifference(folded.logits.plain().scalars, nodeByNode.logits.plain().scalars)
            print("\(name): max |folded − node by node| logits = \(d)")
            XCTAssertLessThan(d, 1e-5, name)
            XCTAssertLessThan(maxDifference(folded.features.plain().scalars, nodeByNode.features.plain().scalars), 1e-5, name)
        }
    }

    func testTrainingModeAndGradientsReachTheGraph() throws {
        let model = try ONNXImport.load(path: Fixture.onnx("vgg-mini"), options: Fixture.options("vgg-mini")).model
        let x = model.normalized(try Fixture.expected("vgg-mini").pixels)
        let classifier = model.classifier
        classifier.eval()
        let evaluation = classifier(x).plain().scalars
        classifier.train()
        let training = classifier(x)
        XCTAssertGreaterThan(maxDifference(evaluation, training.plain().scalars), 1e-3, "batch statistics differ from running ones")
        let loss = training.logSoftmax().mean()
        loss.backward()
        let gradients = classifier.namedParameters().compactMap { $0.1.grad }
        XCTAssertEqual(gradients.count, classifier.namedParameters().count)
        XCTAssertTrue(gradients.contains { g in g.scalars.contains { $0 != 0 } })
        classifier.eval()
        XCTAssertEqual(classifier(x).plain().scalars.count, evaluation.count)
    }
}

import NeuralNet
import Prediction
import Training

/// The oracle attacker's own copy of the deployed defense (the paper's Tab. 9): given one of the
/// attacker's shadow models and a seed, the shadow behind the same defense mechanism with the
/// attacker's own key and secrets (full knowledge of the mechanism and its settings, none of the
/// owner's key). Supplied by the layer that knows the defenses; the attack only asks it for answers.
public typealias ShadowDefense = (_ shadow: TrainedModel, _ seed: UInt64) throws -> PredictionAPI

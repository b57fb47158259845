// The fused operations of the Stream-DiffVSR pipeline: the DDIM update, the flow-warp sampling grid,
// and RAFT's coordinate grid, convex upsampling and correlation lookups.

import BackendInterface

public typealias PredictionType = BackendInterface.PredictionType
public typealias DDIMStepParameters = BackendInterface.DDIMStepParameters

/// One deterministic DDIM update (eta 0), elementwise over same-shape tensors.
public func ddimStep(sample: Tensor, modelOutput: Tensor, _ parameters: DDIMStepParameters) -> Tensor {
    sample.requireSameDevice(modelOutput, operation: "ddim_step")
    precondition(modelOutput.shape == sample.shape, "DDIM step: model output \(modelOutput.shape) vs sample \(sample.shape)")
    let result = Tensor(uninitializedShape: sample.shape, on: sample.device)
    guard result.count > 0 else { return result }
    sample.backend.ddimStep(parameters, sample: sample.operand.buffer, modelOutput: modelOutput.operand.buffer,
                            into: result.buffer)
    return result
}

/// [batch, 2, height, width]: channel 0 holds each position's column index, channel 1 its row index.
public func coordinateGrid(batch: Int = 1, height: Int, width: Int, on device: Device) -> Tensor {
    let result = Tensor(uninitializedShape: [batch, 2, height, width], on: device)
    guard result.count > 0 else { return result }
    device.backend.coordinateGrid(CoordinateGridParameters(batch: batch, height: height, width: width), into: result.buffer)
    return result
}

/// The grid_sample grid [N, H, W, 2] that reads each pixel (x, y) at (x + flow_x, y + flow_y), normalised
/// as `2 v / span - 1` with spans `max(size - 1, 1)` (the align_corners=True convention; the reference's
/// flow warp then samples with align_corners=False). `flow` is [N, 2, H, W] in pixels.
public func flowSamplingGrid(_ flow: Tensor) -> Tensor {
    precondition(flow.rank == 4 && flow.shape[1] == 2, "flow must be [N, 2, H, W], got \(flow.shape)")
    let (batch, height, width) = (flow.shape[0], flow.shape[2], flow.shape[3])
    let result = Tensor(uninitializedShape: [batch, height, width, 2], on: flow.device)
    guard result.count > 0 else { return result }
    flow.backend.flowSamplingGrid(FlowGridParameters(batch: batch, height: height, width: width,
                                                     spanX: Float(max(width - 1, 1)), spanY: Float(max(height - 1, 1))),
                                  flow: flow.operand.buffer, into: result.buffer)
    return result
}

/// torchvision RAFT's `upsample_flow` with a mask: each fine pixel (f y + i, f x + j) is a convex
/// combination, softmax over the 9 weights mask[k f² + i f + j] (k = 3 ky + kx), of f x the coarse flow at
/// the 3x3 neighbours (y + ky - 1, x + kx - 1), zero outside the grid. flow [1, 2, h, w], mask
/// [1, 9 f², h, w] -> [1, 2, f h, f w].
public func convexUpsample(flow: Tensor, mask: Tensor, factor: Int) -> Tensor {
    flow.requireSameDevice(mask, operation: "convex_upsample")
    precondition(flow.rank == 4 && flow.shape[0] == 1 && flow.shape[1] == 2, "convex upsampling: flow \(flow.shape)")
    let (height, width) = (flow.shape[2], flow.shape[3])
    precondition(mask.shape == [1, 9 * factor * factor, height, width], "convex upsampling: mask \(mask.shape)")
    let result = Tensor(uninitializedShape: [1, 2, height * factor, width * factor], on: flow.device)
    guard result.count > 0 else { return result }
    flow.backend.convexUpsample(ConvexUpsampleParameters(height: height, width: width, factor: factor),
                                flow: flow.operand.buffer, mask: mask.operand.buffer, into: result.buffer)
    return result
}

/// RAFT's correlation lookup around `coordinates` [1, 2, H, W] (x then y, in level-0 pixels) from the
/// stored pyramid `volumes` (level l: [H·W, 1, H_l, W_l]): [1, levels (2r+1)², H, W]. Per level the
/// centre is coordinates / 2^l and the window is sampled bilinearly with zero padding (torchvision
/// normalises by size - 1 and grid_sample unnormalises with align_corners=True; both roundings kept);
/// within a level the channel is ix (2r+1) + iy (x-offset major).
public func correlationLookup(volumes: [Tensor], coordinates: Tensor, radius: Int) -> Tensor {
    let parameters = lookupParameters(levels: volumes.map { [$0.shape[2], $0.shape[3]] }, coordinates: coordinates,
                                      radius: radius, channels: 0)
    for (level, volume) in volumes.enumerated() {
        coordinates.requireSameDevice(volume, operation: "correlation_lookup")
        precondition(volume.rank == 4 && volume.shape[0] == parameters.height * parameters.width && volume.shape[1] == 1,
                     "correlation level \(level): \(volume.shape) for \(parameters.height)x\(parameters.width) queries")
    }
    let result = Tensor(uninitializedShape: [1, parameters.outputChannels, parameters.height, parameters.width], on: coordinates.device)
    guard result.count > 0 else { return result }
    coordinates.backend.correlationLookup(parameters, volumes: volumes.map { $0.operand.buffer },
                                          coordinates: coordinates.operand.buffer, into: result.buffer)
    return result
}

/// The same lookup without the stored volume: `queries` [H·W, C] (already scaled by 1/sqrt(C)) and per
/// level `keys` [H_l·W_l, C] with `levelSizes` [[H_l, W_l]]; each needed dot product is computed on demand.
public func correlationLookup(queries: Tensor, keys: [Tensor], levelSizes: [[Int]], coordinates: Tensor,
                              radius: Int) -> Tensor {
    let channels = queries.dim(-1)
    let parameters = lookupParameters(levels: levelSizes, coordinates: coordinates, radius: radius, channels: channels)
    precondition(queries.shape == [parameters.height * parameters.width, channels], "correlation queries \(queries.shape)")
    for (level, key) in keys.enumerated() {
        coordinates.requireSameDevice(queries, key, operation: "correlation_lookup")
        precondition(key.shape == [levelSizes[level][0] * levelSizes[level][1], channels], "correlation keys \(level): \(key.shape)")
    }
    let result = Tensor(uninitializedShape: [1, parameters.outputChannels, parameters.height, parameters.width], on: coordinates.device)
    guard result.count > 0 else { return result }
    coordinates.backend.correlationLookupOnDemand(parameters, queries: queries.operand.buffer,
                                                  keys: keys.map { $0.operand.buffer },
                                                  coordinates: coordinates.operand.buffer, into: result.buffer)
    return result
}

private func lookupParameters(levels: [[Int]], coordinates: Tensor, radius: Int, channels: Int) -> CorrelationLookupParameters {
    precondition(coordinates.rank == 4 && coordinates.shape[0] == 1 && coordinates.shape[1] == 2,
                 "lookup: coordinates \(coordinates.shape)")
    precondition(!levels.isEmpty && levels.allSatisfy { $0.count == 2 && $0[0] >= 2 && $0[1] >= 2 } && radius >= 0,
                 "lookup: levels \(levels) (each at least 2x2), radius \(radius)")
    return CorrelationLookupParameters(height: coordinates.shape[2], width: coordinates.shape[3], levelSizes: levels,
                                       radius: radius, channels: channels)
}

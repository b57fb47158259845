// Straightforward float64 implementations of the definitions of matmul, convolution and attention,
// for shapes too large to commit as fixtures: big enough to cross the GEMM cache blocks, split across
// threads or workgroups, and leave ragged edge tiles. They are the reference, so they stay naive on
// purpose and work on host arrays.

import Foundation
import TensorEngine

/// Host values with their shape.
struct HostTensor {
    let shape: [Int]
    var values: [Float]

    /// Deterministic values uniform in [-1, 1) (a 64-bit LCG), so large inputs need no fixture.
    init(seeded shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        self.shape = shape
        values = (0..<shape.reduce(1, *)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 23) - 1) * scale + offset
        }
    }

    init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    func on(_ device: Device) -> Tensor { Tensor(shape: shape, scalars: values, on: device) }
}

/// [batch, m, k] x [k, n] (or [n, k] when `transposeB`), b shared by the batch; `bias` [n] added.
func referenceMatmul(_ a: HostTensor, _ b: HostTensor, transposeB: Bool, bias: HostTensor? = nil) -> HostTensor {
    let (batch, m, k) = (a.shape[0], a.shape[1], a.shape[2])
    let n = transposeB ? b.shape[0] : b.shape[1]
    var result = [Float](repeating: 0, count: batch * m * n)
    for entry in 0..<batch {
        for i in 0..<m {
            for j in 0..<n {
                var sum = Double(bias?.values[j] ?? 0)
                for p in 0..<k {
                    let bValue = transposeB ? b.values[j * k + p] : b.values[p * n + j]
                    sum += Double(a.values[(entry * m + i) * k + p]) * Double(bValue)
                }
                result[(entry * m + i) * n + j] = Float(sum)
            }
        }
    }
    return HostTensor(shape: [batch, m, n], values: result)
}

func referenceConv2d(_ x: HostTensor, weight: HostTensor, bias: HostTensor?, stride: (Int, Int), padding: (Int, Int)) -> HostTensor {
    let (batch, inChannels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (outChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
    let outHeight = (height + 2 * padding.0 - kernelHeight) / stride.0 + 1
    let outWidth = (width + 2 * padding.1 - kernelWidth) / stride.1 + 1
    var result: [Float] = []
    result.reserveCapacity(batch * outChannels * outHeight * outWidth)
    for n in 0..<batch {
        for o in 0..<outChannels {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    var sum = Double(bias?.values[o] ?? 0)
                    for c in 0..<inChannels {
                        for ky in 0..<kernelHeight {
                            let iy = oy * stride.0 - padding.0 + ky
                            guard iy >= 0 && iy < height else { continue }
                            for kx in 0..<kernelWidth {
                                let ix = ox * stride.1 - padding.1 + kx
                                guard ix >= 0 && ix < width else { continue }
                                sum += Double(x.values[((n * inChannels + c) * height + iy) * width + ix])
                                    * Double(weight.values[((o * inChannels + c) * kernelHeight + ky) * kernelWidth + kx])
                            }
                        }
                    }
                    result.append(Float(sum))
                }
            }
        }
    }
    return HostTensor(shape: [batch, outChannels, outHeight, outWidth], values: result)
}

/// softmax(q kᵀ / sqrt(d)) v per head on [B, L, heads * d], causal masks keys after the query (top-left).
func referenceAttention(query: HostTensor, key: HostTensor, value: HostTensor, heads: Int, causal: Bool) -> HostTensor {
    let (batch, queryLength, channels) = (query.shape[0], query.shape[1], query.shape[2])
    let (keyLength, valueChannels) = (key.shape[1], value.shape[2])
    let (headDim, valueHeadDim) = (channels / heads, valueChannels / heads)
    let scale = 1 / Double(headDim).squareRoot()
    var result = [Float](repeating: 0, count: batch * queryLength * valueChannels)
    var scores = [Double](repeating: 0, count: keyLength)
    for b in 0..<batch {
        for h in 0..<heads {
            for i in 0..<queryLength {
                let visible = causal ? min(i + 1, keyLength) : keyLength
                var maximum = -Double.infinity
                for j in 0..<visible {
                    var dot: Double = 0
                    for d in 0..<headDim {
                        dot += Double(query.values[(b * queryLength + i) * channels + h * headDim + d])
                            * Double(key.values[(b * keyLength + j) * channels + h * headDim + d])
                    }
                    scores[j] = dot * scale
                    maximum = max(maximum, scores[j])
                }
                var total: Double = 0
                for j in 0..<visible {
                    scores[j] = Foundation.exp(scores[j] - maximum)
                    total += scores[j]
                }
                for d in 0..<valueHeadDim {
                    var sum: Double = 0
                    for j in 0..<visible {
                        sum += scores[j] * Double(value.values[(b * keyLength + j) * valueChannels + h * valueHeadDim + d])
                    }
                    result[(b * queryLength + i) * valueChannels + h * valueHeadDim + d] = Float(sum / total)
                }
            }
        }
    }
    return HostTensor(shape: [batch, queryLength, valueChannels], values: result)
}

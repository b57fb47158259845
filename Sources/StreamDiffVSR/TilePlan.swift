import TensorEngine

/// How a frame is cut into overlapping tiles for the diffusion and the decoder, and how tiles are
/// blended back. Sizes are in LR (= latent) pixels; the decoder's output tiles are `scale` times larger.
///
/// Tile origins are multiples of `alignment` (8: the UNet downsamples three times and the temporal
/// decoder pools 4x4, so every level's grid lines up with the untiled one); the last tile of a row or
/// column ends at the frame edge, so it may be up to `alignment - 1` pixels larger than the others.
/// Neighbouring tiles overlap by at least `overlap` pixels; in an overlap a tile's weight falls
/// linearly towards its edge, and blended values are Σ wᵢ xᵢ / Σ wᵢ over the tiles covering a pixel.
public struct TilePlan: Equatable, Sendable {
    public struct Tile: Equatable, Sendable {
        public let row: Int, column: Int, height: Int, width: Int
        /// Widths of the weight ramps on each side (0 at the frame edge).
        let rampTop: Int, rampBottom: Int, rampLeft: Int, rampRight: Int
    }

    public let height: Int
    public let width: Int
    public let tiles: [Tile]

    /// Tiles of about `tile` x `tile` LR pixels overlapping by `overlap`; a side of at most `tile`
    /// pixels is not cut.
    public init(height: Int, width: Int, tile: Int, overlap: Int, alignment: Int = 8) {
        precondition(height > 0 && width > 0 && tile > 0 && overlap >= 0 && alignment > 0, "tile plan \(height)x\(width) tile \(tile) overlap \(overlap)")
        self.height = height
        self.width = width
        let rows = Self.spans(length: height, tile: tile, overlap: overlap, alignment: alignment)
        let columns = Self.spans(length: width, tile: tile, overlap: overlap, alignment: alignment)
        tiles = rows.flatMap { row in
            columns.map { column in
                Tile(row: row.start, column: column.start, height: row.length, width: column.length,
                     rampTop: row.rampBefore, rampBottom: row.rampAfter, rampLeft: column.rampBefore, rampRight: column.rampAfter)
            }
        }
    }

    public var isTiled: Bool { tiles.count > 1 }

    /// Cuts one axis: starts spaced evenly (aligned down), the last span ending at `length`; ramps as
    /// wide as the overlap with each neighbour.
    static func spans(length: Int, tile: Int, overlap: Int, alignment: Int)
        -> [(start: Int, length: Int, rampBefore: Int, rampAfter: Int)] {
        let size = max(tile, alignment)
        guard length > size else { return [(0, length, 0, 0)] }
        let stride = max(alignment, size - overlap)
        let count = (length - size + stride - 1) / stride + 1
        var starts = (0..<count).map { index in (index * (length - size) / (count - 1)) / alignment * alignment }
        starts = Array(Set(starts)).sorted()
        let ends = starts.indices.map { $0 == starts.count - 1 ? length : starts[$0] + size }
        return starts.indices.map { index in
            let before = index == 0 ? 0 : ends[index - 1] - starts[index]
            let after = index == starts.count - 1 ? 0 : ends[index] - starts[index + 1]
            return (starts[index], ends[index] - starts[index], before, after)
        }
    }

    /// The blending weight of `tile` at `scale` x its size: [1, 1, height · scale, width · scale].
    /// In an overlap of n pixels the weight at distance d from the tile's edge is (d + 0.5) / n (where
    /// two tiles overlap, the neighbour's is the complement), 1 elsewhere.
    public func weights(of tile: Tile, scale: Int = 1, on device: Device) -> Tensor {
        let rows = Self.ramp(length: tile.height * scale, before: tile.rampTop * scale, after: tile.rampBottom * scale)
        let columns = Self.ramp(length: tile.width * scale, before: tile.rampLeft * scale, after: tile.rampRight * scale)
        return Tensor(shape: [1, 1, rows.count, columns.count], scalars: rows.flatMap { r in columns.map { r * $0 } }, on: device)
    }

    static func ramp(length: Int, before: Int, after: Int) -> [Float] {
        (0..<length).map { position in
            var weight: Float = 1
            if position < before { weight = min(weight, (Float(position) + 0.5) / Float(before)) }
            let fromEnd = length - 1 - position
            if fromEnd < after { weight = min(weight, (Float(fromEnd) + 0.5) / Float(after)) }
            return weight
        }
    }
}

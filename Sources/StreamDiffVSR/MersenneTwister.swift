// MT19937, the engine of PyTorch's CPU generator (ATen's at::mt19937): the standard Mersenne Twister
// of Matsumoto and Nishimura, seeded with the low 32 bits of the seed by the 2002 init_genrand recurrence.
// Its output sequence is the one C++'s std::mt19937 gives for the same 32-bit seed.

/// The 32-bit Mersenne Twister, word for word as `torch.manual_seed(seed)` leaves the CPU generator.
struct MersenneTwister {
    private static let stateSize = 624
    private static let shift = 397
    private static let matrix: UInt32 = 0x9908_B0DF

    private var state: [UInt32]
    /// Next word of `state` to temper; `stateSize` means the block is used up and must be regenerated.
    private var position: Int

    /// `torch.manual_seed` keeps only the low 32 bits for MT19937 (the CUDA generator keeps all 64).
    init(seed: UInt64) {
        var state = [UInt32](repeating: 0, count: Self.stateSize)
        state[0] = UInt32(truncatingIfNeeded: seed)
        for index in 1..<Self.stateSize {
            let previous = state[index - 1]
            state[index] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(index)
        }
        self.state = state
        position = Self.stateSize
    }

    /// The 624 state words and the next one to temper: all a resumed run needs to continue the sequence.
    var snapshot: (words: [UInt32], position: Int) { (state, position) }

    /// The engine as `snapshot` recorded it (nil when the snapshot is malformed).
    init?(snapshot words: [UInt32], position: Int) {
        guard words.count == Self.stateSize, (0...Self.stateSize).contains(position) else { return nil }
        state = words
        self.position = position
    }

    /// The next 32-bit output (ATen's `random()`).
    mutating func next() -> UInt32 {
        if position == Self.stateSize { regenerate() }
        var word = state[position]
        position += 1
        word ^= word >> 11
        word ^= (word << 7) & 0x9D2C_5680
        word ^= (word << 15) & 0xEFC6_0000
        word ^= word >> 18
        return word
    }

    /// Discards `count` outputs (tempering is skipped: only the position matters).
    mutating func skip(_ count: Int) {
        var remaining = count
        while remaining > 0 {
            if position == Self.stateSize { regenerate() }
            let step = min(remaining, Self.stateSize - position)
            position += step
            remaining -= step
        }
    }

    /// The twist that turns the 624 words into the next 624 (in place: words past `shift` read new values).
    private mutating func regenerate() {
        let size = Self.stateSize, shift = Self.shift
        state.withUnsafeMutableBufferPointer { words in
            func twist(_ index: Int, _ next: Int, _ partner: Int) {
                let mixed = (words[index] & 0x8000_0000) | (words[next] & 0x7FFF_FFFF)
                words[index] = words[partner] ^ (mixed >> 1) ^ (mixed & 1 == 0 ? 0 : Self.matrix)
            }
            for index in 0..<(size - shift) { twist(index, index + 1, index + shift) }
            for index in (size - shift)..<(size - 1) { twist(index, index + 1, index + shift - size) }
            twist(size - 1, 0, shift - 1)
        }
        position = 0
    }
}

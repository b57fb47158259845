// Parity of DDIMScheduler with diffusers 0.27.2 over a grid of config combinations
// (fixture: tools/fixtures/gen_ddim.py).

import Foundation
import StreamDiffVSR
import TensorEngine
import TestSupport
import XCTest

final class DDIMSchedulerTests: XCTestCase {
    private struct GridCase: Decodable {
        let config: DDIMSchedulerConfig
        let steps: Int
    }

    private func gridCases() throws -> [GridCase] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "ddim_grid", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode([GridCase].self, from: Data(contentsOf: url))
    }

    /// Every beta schedule x prediction type x timestep spacing, with set_alpha_to_one, steps_offset,
    /// clip_sample (+ range), rescale_betas_zero_snr and num_train_timesteps varied across the grid.
    func testScheduleTimestepsAndStepsMatchDiffusers() throws {
        let fixture = try Fixture("ddim_grid", in: .module)
        let samples = try fixture["samples"], outputs = try fixture["model_outputs"]
        let rowShape = Array(samples.shape.dropFirst())
        let rowCount = rowShape.reduce(1, *)
        func row(_ t: Tensor, _ i: Int) -> Tensor { t.slice(axis: 0, i..<(i + 1)).reshaped(rowShape) }

        for (index, gridCase) in try gridCases().enumerated() {
            var scheduler = try DDIMScheduler(config: gridCase.config)
            let expectedAlphas = try fixture["case_\(index)_alphas_cumprod"]
            // PyTorch's SIMD linspace and sqrt round some entries one ulp away from the correctly rounded
            // value (see DDIMScheduler.linspace); a few ulps is the agreement expected here.
            assertClose(Tensor(shape: [scheduler.alphasCumprod.count], scalars: scheduler.alphasCumprod), expectedAlphas,
                        tolerance: 2e-6, "case \(index) alphas_cumprod")

            try scheduler.setTimesteps(gridCase.steps)
            let expectedTimesteps = try fixture["case_\(index)_timesteps"].scalars.map { Int($0) }
            XCTAssertEqual(scheduler.timesteps, expectedTimesteps, "case \(index) timesteps \(gridCase.config)")
            guard scheduler.timesteps == expectedTimesteps else { continue }

            let expectedSteps = try fixture["case_\(index)_prev_samples"].scalars
            for (step, timestep) in scheduler.timesteps.enumerated() {
                let sample = scheduler.scaleModelInput(row(samples, step), timestep: timestep)
                let previous = scheduler.step(modelOutput: row(outputs, step), timestep: timestep, sample: sample)
                let expected = Tensor(shape: rowShape, scalars: Array(expectedSteps[(step * rowCount)..<((step + 1) * rowCount)]))
                // Near t = 0, 1 - ᾱ is tiny and divides (sample prediction) or scales the update, which turns
                // those one-ulp ᾱ differences into ~3e-5 relative; the update formula itself is exact.
                assertClose(previous, expected, tolerance: 1e-4, "case \(index) step \(step) (t = \(timestep))")
            }
            XCTAssertEqual(scheduler.initNoiseSigma, 1)
        }
    }

    /// The golden run's schedule: trailing 999, 749, 499, 249, and the last step uses ᾱ_0 (set_alpha_to_one false).
    func testGoldenScheduleConfig() throws {
        let json = #"{"beta_schedule": "scaled_linear", "prediction_type": "v_prediction", "timestep_spacing": "trailing", "#
            + #""clip_sample": false, "set_alpha_to_one": false, "steps_offset": 0, "thresholding": false, "trained_betas": null}"#
        let config = try JSONDecoder().decode(DDIMSchedulerConfig.self, from: Data(json.utf8))
        var scheduler = try DDIMScheduler(config: config)
        try scheduler.setTimesteps(4)
        XCTAssertEqual(scheduler.timesteps, [999, 749, 499, 249])
        XCTAssertEqual(scheduler.finalAlphaCumprod, scheduler.alphasCumprod[0])
    }

    func testThresholdingAndBadValuesAreRejectedNamingTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("scheduler_config.json")
        for (json, key) in [(#"{"thresholding": true}"#, "thresholding"), (#"{"beta_schedule": "cubic"}"#, "beta_schedule"),
                            (#"{"timestep_spacing": 3}"#, "timestep_spacing")] {
            try json.write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try DDIMSchedulerConfig.load(from: url)) { error in
                XCTAssert("\(error)".contains(url.path) && "\(error)".contains(key), "\(error)")
            }
        }
        var thresholding = DDIMSchedulerConfig()
        thresholding.thresholding = true
        XCTAssertThrowsError(try DDIMScheduler(config: thresholding))
        var scheduler = try DDIMScheduler(config: DDIMSchedulerConfig())
        XCTAssertThrowsError(try scheduler.setTimesteps(1001))
    }
}

import XCTest
@testable import WebApp

final class ServerConfigurationTests: XCTestCase {
    func testDefaults() throws {
        let configuration = try ServerConfiguration.fromEnvironment([:])
        XCTAssertEqual(configuration.port, 8000)
        XCTAssertEqual(configuration.modelID, "Jamichsu/Stream-DiffVSR")
        XCTAssertEqual(configuration.temporaryFolder, ".stream_diffvsr_tmp")
        XCTAssertEqual(configuration.outputFolder, "outputs")
    }

    func testEnvironmentOverridesDefaults() throws {
        let configuration = try ServerConfiguration.fromEnvironment([
            "PORT": "9123", "STREAM_DIFFVSR_MODEL_ID": "me/tiny", "STREAM_DIFFVSR_TMP_DIR": "/tmp/x",
            "STREAM_DIFFVSR_OUTPUT_DIR": "/tmp/y", "STREAM_DIFFVSR_MAX_UPLOAD_MB": "3", "STREAM_DIFFVSR_MAX_INPUT_SIDE": "640",
        ])
        XCTAssertEqual(configuration.port, 9123)
        XCTAssertEqual(configuration.modelID, "me/tiny")
        XCTAssertEqual(configuration.temporaryFolder, "/tmp/x")
        XCTAssertEqual(configuration.outputFolder, "/tmp/y")
        XCTAssertEqual(configuration.maxUploadBytes, 3 << 20)
        XCTAssertEqual(configuration.maxInputSide, 640)
    }

    func testBadNumbersNameTheVariable() {
        XCTAssertThrowsError(try ServerConfiguration.fromEnvironment(["PORT": "eighty"])) { error in
            XCTAssertEqual("\(error)", "PORT=eighty: expected a positive whole number")
        }
    }
}

package org.rql4j.bridge;

/**
 * The Java face of the Python bridge over Py4J, implemented in Python by
 * {@code rql4j_bridge.py4j_server.Py4jBridgeService} (the Py4J gateway's Python entry point).
 *
 * <p>One method carries every unary call of the {@code rql4j.v1} contract: {@code method} is the
 * gRPC full method name (e.g. {@code rql4j.v1.EnvService/Step}), {@code request} the serialized
 * request message. The reply is an envelope: its first byte is the gRPC status code number (0
 * OK), the rest the serialized response (OK) or the UTF-8 error message. Byte arrays, never Java
 * collections: Py4J sends a {@code byte[]} as one base64 string, a list element by element.
 */
public interface Py4jBridgeService {

  /** One unary call; failures come back as an error envelope, not as an exception. */
  byte[] call(String method, byte[] request);
}

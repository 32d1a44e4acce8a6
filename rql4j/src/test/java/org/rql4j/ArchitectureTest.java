package org.rql4j;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The library's layering (docs/architecture.md): packages depend on each other without cycles (the
 * command line is another module, rql4j-cli, on top), the use case ({@code customize}) sits above
 * the parts it assembles, and only the command line writes to the console (the library logs
 * through SLF4J), and the library's own float math gives the same bits in every process.
 */
@AnalyzeClasses(packages = "org.rql4j", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  @ArchTest
  static final ArchRule noPackageCycles = slices().matching("org.rql4j.(*)..").should().beFreeOfCycles();

  @ArchTest
  static final ArchRule theUseCaseSitsAboveItsParts = noClasses().that()
      .resideInAnyPackage("org.rql4j.env..", "org.rql4j.bridge..", "org.rql4j.prior..", "org.rql4j.learner..",
          "org.rql4j.buffer..", "org.rql4j.train..", "org.rql4j.policy..", "org.rql4j.mcts..", "org.rql4j.runtime..")
      .should().dependOnClassesThat().resideInAPackage("org.rql4j.customize..");

  /** The library logs (SLF4J) or hands text to its caller; what a user reads is printed by cli/. */
  @ArchTest
  static final ArchRule onlyTheCommandLinePrints = noClasses().that()
      .resideOutsideOfPackages("org.rql4j.cli..", "org.rql4j.proto..")
      .should().accessField(System.class, "out")
      .orShould().accessField(System.class, "err")
      .orShould().callMethod(Throwable.class, "printStackTrace")
      .because("library code logs through SLF4J; only org.rql4j.cli prints to the console");

  /**
   * {@code Math.exp/log/pow} may return different last bits in the interpreter, C1 and C2 (only
   * within 1 ulp), so a seed's run would depend on when the JIT compiled a method: under load, a
   * second process with the same settings learned a different policy. {@code StrictMath} is the
   * same everywhere. ({@code Math.sqrt} is exact and stays.)
   */
  @ArchTest
  static final ArchRule floatMathIsTheSameInEveryProcess = noClasses()
      .should().callMethod(Math.class, "exp", double.class)
      .orShould().callMethod(Math.class, "log", double.class)
      .orShould().callMethod(Math.class, "pow", double.class, double.class)
      .orShould().callMethod(Math.class, "log1p", double.class)
      .orShould().callMethod(Math.class, "expm1", double.class)
      .orShould().callMethod(Math.class, "tanh", double.class)
      .because("Math's transcendental functions may differ by JIT tier; use StrictMath (docs/reproducibility.md)");

  /**
   * DJL's {@code NDArray.mul(Number)} and its kind leave a recorded graph holding a tensor whose Java
   * buffer the garbage collector may free before backward (see {@link org.rql4j.runtime.Scalars}).
   */
  @ArchTest
  static final ArchRule numbersEnterGraphsThroughScalars = noClasses()
      .that().doNotHaveFullyQualifiedName("org.rql4j.runtime.Scalars")
      .should().callMethod(ai.djl.ndarray.NDArray.class, "mul", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "div", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "add", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "sub", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "pow", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "maximum", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "minimum", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "mod", Number.class)
      .orShould().callMethod(ai.djl.ndarray.NDArrays.class, "sub", Number.class, ai.djl.ndarray.NDArray.class)
      .orShould().callMethod(ai.djl.ndarray.NDArrays.class, "div", Number.class, ai.djl.ndarray.NDArray.class)
      .orShould().callMethod(ai.djl.ndarray.NDArrays.class, "mul", Number.class, ai.djl.ndarray.NDArray.class)
      .orShould().callMethod(ai.djl.ndarray.NDArrays.class, "add", Number.class, ai.djl.ndarray.NDArray.class)
      .because("a number in a recorded DJL op must live in libtorch memory: use org.rql4j.runtime.Scalars");

  /**
   * DJL's {@code NDArray.set(float[])} (and {@code set(Buffer)}, {@code copyTo}) points a tensor at a
   * Java buffer that only one wrapper keeps alive; weights and optimizer state are written through
   * {@link org.rql4j.learner.InPlace}, a copy into the tensor's own memory.
   */
  @ArchTest
  static final ArchRule valuesEnterTensorsThroughInPlace = noClasses()
      .that().doNotHaveFullyQualifiedName("org.rql4j.learner.InPlace")
      .should().callMethod(ai.djl.ndarray.NDArray.class, "set", float[].class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "set", double[].class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "set", java.nio.Buffer.class)
      .orShould().callMethod(ai.djl.ndarray.NDArray.class, "copyTo", ai.djl.ndarray.NDArray.class)
      .because("a tensor must not point at Java memory only one wrapper keeps alive: use org.rql4j.learner.InPlace");
}

package org.rql4j;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The library's layering (docs/architecture.md): packages depend on each other without cycles, the
 * command line sits on top (nothing else uses it), the use case ({@code customize}) sits above
 * the parts it assembles, and only the command line writes to the console (the library logs
 * through SLF4J).
 */
@AnalyzeClasses(packages = "org.rql4j", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  @ArchTest
  static final ArchRule noPackageCycles = slices().matching("org.rql4j.(*)..").should().beFreeOfCycles();

  @ArchTest
  static final ArchRule nothingUsesTheCommandLine = noClasses().that().resideOutsideOfPackage("org.rql4j.cli..")
      .should().dependOnClassesThat().resideInAPackage("org.rql4j.cli..");

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
}

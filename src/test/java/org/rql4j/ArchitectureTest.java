package org.rql4j;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The library's layering (docs/architecture.md): packages depend on each other without cycles, the
 * command line sits on top (nothing else uses it), and the use case ({@code customize}) sits above
 * the parts it assembles.
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
}
